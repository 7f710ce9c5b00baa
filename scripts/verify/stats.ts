// Statistics for the traffic-split verdict, by section: the tests (chi-square, Wilson), the
// verdict rules, sample sizing (`-n auto`), simulation, and the two-stage design of
// `--extend-once`. Shares are fractions (0..1) inside these modules; the report turns them
// into percent/points.
export * from './stats/tests.ts';
export * from './stats/verdict.ts';
export * from './stats/sizing.ts';
export * from './stats/simulation.ts';
export * from './stats/sequential.ts';
