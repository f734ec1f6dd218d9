// The capacity page's NUMA cells in the node's detail: per cell, bars for memory, shared CPU use and each page
// size's pages, and the cell's CPUs as boxes grouped by core, the pinned ones marked. detail.js calls
// window.capacityNuma.cellsHtml when it draws the detail, passing rows.js's bar and number format, so that the
// cells' bars read like the node's. Loaded before app.js (index.html).
'use strict';

(() => {
  const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);

  /** A labelled bar; `used` is what the figures say when the bar's use includes a reserve (page pools). */
  function meter(kind, label, r, { bar, fmt }, used = r.used) {
    const reserve = r.reserved > 0 ? `, ${fmt(r.reserved)} reserved` : '';
    const title = `${label}: used ${fmt(used)} of ${fmt(r.total)}${reserve}, limit ${fmt(r.limit)}`;
    return (
      `<div class="numa-meter" data-meter="${kind}" data-used="${used}" data-total="${r.total}" data-limit="${r.limit}" title="${title}">` +
      `<div class="figures"><span>${label}</span><span><b>${fmt(used)}</b> / ${fmt(r.total)}${reserve}</span></div>` +
      bar(r) +
      '</div>'
    );
  }

  /** The cell's CPUs by core (its sibling sets; a CPU in none is a core of its own), lowest CPU first. */
  function cores(c) {
    const all = [...new Set([...c.cpuset, ...c.pcpuset, ...(c.unknownPinnedCpus || [])].map(num))];
    const grouped = new Set();
    const groups = (c.siblings || [])
      .map((s) => s.map(num).filter((cpu) => all.includes(cpu) && !grouped.has(cpu) && grouped.add(cpu)))
      .filter((s) => s.length > 0);
    for (const cpu of all) if (!grouped.has(cpu)) groups.push([cpu]);
    for (const g of groups) g.sort((a, b) => a - b);
    return groups.sort((a, b) => a[0] - b[0]);
  }

  function cpuBox(c, cpu) {
    const pinned = c.pinnedCpus.includes(cpu);
    const gone = (c.unknownPinnedCpus || []).includes(cpu);
    const kind = c.pcpuset.includes(cpu) ? 'dedicated' : c.cpuset.includes(cpu) ? 'shared' : 'dedicated';
    const what = `${kind}${pinned ? ', pinned' : kind === 'dedicated' ? ', free' : ''}${gone ? ', no longer reported' : ''}`;
    const cls = ['cpu', kind, pinned ? 'pinned' : '', gone ? 'gone' : ''].filter(Boolean).join(' ');
    return `<i class="${cls}" data-cpu="${cpu}" title="CPU ${cpu}: ${what}">${cpu}</i>`;
  }

  function cellHtml(n, c, tools) {
    const id = num(c.id);
    const ram = num(n.ramAllocationRatio) || 1;
    const cpuRatio = num(n.cpuAllocationRatio) || 1;
    const memory = { total: num(c.memoryMb), reserved: 0, used: num(c.memoryUsageMb), limit: num(c.memoryMb) * ram };
    const sharedCpus = c.cpuset.length;
    const shared = { total: sharedCpus, reserved: 0, used: num(c.cpuUsage), limit: sharedCpus * cpuRatio };
    const pages = c.mempages.map((p) => {
      const total = num(p.total);
      const r = { total, reserved: num(p.reserved), used: num(p.reserved) + num(p.used), limit: total };
      return meter(`pages-${num(p.sizeKb)}`, `${pageSize(num(p.sizeKb))} pages`, r, tools, num(p.used));
    });
    const free = c.pcpuset.filter((cpu) => !c.pinnedCpus.includes(cpu)).length;
    return (
      `<section class="numa-cell" data-numa-cell="${id}">` +
      `<h4>cell ${id}${c.reported === false ? ' <span class="muted">(no longer reported)</span>' : ''}` +
      `<span class="muted">${c.pinnedCpus.length} pinned · ${free} of ${c.pcpuset.length} dedicated free</span></h4>` +
      meter('memory', 'memory MB', memory, tools) +
      meter('shared', 'shared vCPUs', shared, tools) +
      pages.join('') +
      `<div class="cpus">${cores(c)
        .map((core) => `<span class="core">${core.map((cpu) => cpuBox(c, cpu)).join('')}</span>`)
        .join('')}</div>` +
      '</section>'
    );
  }

  function pageSize(kb) {
    if (kb >= 1048576 && kb % 1048576 === 0) return `${kb / 1048576} GiB`;
    if (kb >= 1024 && kb % 1024 === 0) return `${kb / 1024} MiB`;
    return `${kb} KiB`;
  }

  /** The node's cells for the detail panel; nothing for a node without a topology. */
  function cellsHtml(n, tools) {
    const cells = (n.numaTopology && n.numaTopology.cells) || [];
    if (cells.length === 0) return '';
    return (
      '<h3>NUMA cells</h3>' +
      '<p class="numa-legend muted"><i class="cpu dedicated pinned"></i>pinned <i class="cpu dedicated"></i>dedicated, free ' +
      '<i class="cpu shared"></i>shared CPU · CPUs grouped by core (thread siblings)</p>' +
      cells.map((c) => cellHtml(n, c, tools)).join('')
    );
  }

  window.capacityNuma = { cellsHtml };
})();
