// The walkthrough's optional last step after traffic-shift: promote one version with a canary
// (meshbook canary) now, or later with the command it prints. The canary runs as its own
// process (it takes the env file's lock, which the walkthrough gives up first, and enters the
// lab's namespace itself).
import { select } from '@inquirer/prompts';
import { chalk } from 'zx';
import { VERSIONS } from '../traffic-shift/common.ts';

type PromptContext = Parameters<typeof select>[1];

export interface OfferOptions {
  envFile: string;
  /** release the walkthrough's lock on the env file before the canary takes it */
  release: () => void;
  /** run `meshbook <args>` and resolve to its exit code */
  run: (args: string[]) => Promise<number>;
  context?: PromptContext;
  log?: (line: string) => void;
}

/** Ask; run the canary when a version is picked. Resolves to its exit code, or undefined when declined. */
export async function offerCanary(o: OfferOptions): Promise<number | undefined> {
  const log = o.log ?? console.log;
  const to = await select(
    {
      message: 'Optional last step: promote one version with a canary (meshbook canary, steps 10/25/50/100)?',
      choices: [
        { name: 'no, leave the weights as they are', value: '' },
        ...VERSIONS.map((v) => ({ name: `yes, toward ${v}`, value: v })),
      ],
      default: '',
    },
    o.context,
  );
  const cmd = (v: string) => ['canary', '--env', o.envFile, '--to', v];
  if (!to) {
    log(chalk.gray(`later: meshbook ${cmd('v3').join(' ')} (see meshbook canary --help)`));
    return undefined;
  }
  o.release();
  log(chalk.bold(`\n=== meshbook ${cmd(to).join(' ')}`));
  return o.run(cmd(to));
}
