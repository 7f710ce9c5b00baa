// The report page's own style and script, inlined (nothing is fetched: the page's
// Content-Security-Policy allows no source at all besides what is in the file).
export const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

export const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 3em;color:#222;max-width:1400px}
h1{font-size:1.4em;margin:.8em 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
dl.head{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.3em 0}dt{color:#666}dd{margin:0}
code,pre{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace}pre{background:#f6f6f6;padding:.5em;overflow:auto;
max-height:24em;white-space:pre-wrap;word-break:break-all;margin:.3em 0}
.result-ok{color:#2e7d32;font-weight:bold}.result-failed,.result-ended-abnormally{color:#c62828;font-weight:bold}
.result-interrupted,.result-running{color:#ef6c00;font-weight:bold}
.matrix-wrap{overflow:auto;max-height:80vh}table.matrix{border-collapse:collapse;font-size:12px}
table.matrix th{position:sticky;top:0;background:#fff;font-weight:normal;padding:1px 4px;text-align:left;white-space:nowrap}
table.matrix tbody th{position:sticky;left:0;background:#fff}
.cell{min-width:2.2em;text-align:center;border:1px solid #fff;cursor:pointer;padding:1px 3px;display:table-cell}
span.cell{display:inline-block;border-radius:2px}
.s-ok,.s-unchanged{background:#c8e6c9}.s-changed{background:#fff59d}.s-skipped{background:#eee;color:#777}
.s-not-in-lab{background:#b3e5fc}.s-failed{background:#ef9a9a;font-weight:bold}.s-would-change{background:#e1bee7}
.s-none{background:#fafafa}
tr.group th.gname{cursor:pointer;color:#444;font-weight:bold}tbody.grp[data-open="0"] tr.host{display:none}
tbody.grp[data-open="1"] tr.group{opacity:.6}td.sel{outline:2px solid #000}
#panel{position:fixed;right:0;top:0;bottom:0;width:min(46em,60vw);background:#fff;border-left:2px solid #888;
overflow:auto;padding:.5em 1em;box-shadow:-4px 0 12px #0002;display:none}#panel.on{display:block}
#panel button{float:right}details.step{margin:.3em 0;border:1px solid #ddd;border-radius:3px;padding:.2em .6em}
details.step>summary{cursor:pointer}details.step.failed>summary{color:#c62828}
figure{margin:.5em 2.5em .5em 0;display:inline-block;vertical-align:top}figcaption{color:#555;font-size:12px}
table.kv{border-collapse:collapse}table.kv td,table.kv th{border:1px solid #ddd;padding:2px 6px;text-align:right}
.muted{color:#777}.legend{font-size:12px}
`;

/** Click a cell: its commands and output in the side panel; click a group's name: open or fold it. */
export const JS = `
(function(){
  var data={};
  document.querySelectorAll('script.cells').forEach(function(s){data[s.dataset.run]=JSON.parse(s.textContent)});
  var panel=document.getElementById('panel'),body=document.getElementById('panel-body'),sel=null;
  function el(tag,text,cls){var e=document.createElement(tag);if(text!=null)e.textContent=text;if(cls)e.className=cls;return e}
  function show(td){
    var run=td.closest('table').dataset.run,d=data[run],c=d&&d.cells[td.dataset.k];
    if(!c)return;var S=function(i){return i==null?'':d.strings[i]};
    if(sel)sel.classList.remove('sel');sel=td;td.classList.add('sel');
    body.textContent='';
    body.appendChild(el('h3',td.dataset.host+' · '+td.dataset.step));
    body.appendChild(el('p',c.st+(c.ms!=null?' in '+(c.ms/1000).toFixed(1)+' s':'')+(c.at?' · started '+c.at:'')));
    if(c.err!=null)body.appendChild(el('p',S(c.err),'result-failed'));
    if(c.lines.length)body.appendChild(el('pre',c.lines.map(S).join('\\n')));
    if(c.facts!=null){body.appendChild(el('h4','facts found'));body.appendChild(el('pre',S(c.facts)))}
    c.sent.forEach(function(s){
      body.appendChild(el('h4',s.k+' · exit '+s.code+(s.to?' (timed out)':'')+' · '+(s.ms/1000).toFixed(1)+' s'));
      body.appendChild(el('pre',S(s.cmd)));
      if(s.out!=null){body.appendChild(el('div','stdout (last lines)','muted'));body.appendChild(el('pre',S(s.out)))}
      if(s.err!=null){body.appendChild(el('div','stderr (last lines)','muted'));body.appendChild(el('pre',S(s.err)))}
    });
    if(!c.sent.length)body.appendChild(el('p','nothing was sent to this host for this step','muted'));
    panel.classList.add('on');
  }
  document.addEventListener('click',function(e){
    var td=e.target.closest('td.cell');
    if(td&&td.dataset.host){show(td);return}
    var g=e.target.closest('tr.group');
    if(g){var b=g.parentElement;b.dataset.open=b.dataset.open==='1'?'0':'1'}
  });
  document.getElementById('panel-close').addEventListener('click',function(){panel.classList.remove('on')});
  document.addEventListener('keydown',function(e){if(e.key==='Escape')panel.classList.remove('on')});
})();
`;
