// The capacity page's detail of the selected node: its figures, PCI pools, NUMA cells (numa.js), running VMs, live
// migrations and stats. Only HTML from what app.js has read, so that app.js keeps the reading and the refreshing and
// this the panel's many tables. Loaded after rows.js, whose figures and bars it uses, and before app.js (index.html).
'use strict';

(() => {
  const { fmt, escapeHtml, resources, bar } = window.capacityRows;

  function instancesHtml(nodeId, read) {
    if (read.error) return `<p class="muted">${escapeHtml(read.error)}</p>`;
    if (!read.instances || read.instances.nodeId !== nodeId) return '<p class="muted">loading…</p>';
    const list = read.instances.list;
    if (list.length === 0) return '<p class="muted">none</p>';
    const rows = list.map((i) => {
      const notes =
        (i.migrationId ? ' <span class="muted">moving</span>' : '') +
        (i.pciDevices.length ? ` <span class="muted">${i.pciDevices.length} PCI</span>` : '');
      return (
        `<tr data-instance="${escapeHtml(i.instanceUuid)}"><td><code title="${escapeHtml(i.instanceUuid)}">${escapeHtml(i.instanceUuid.slice(0, 8))}</code>${notes}</td>` +
        `<td>${escapeHtml(i.vmState)}${i.taskState ? ` / ${escapeHtml(i.taskState)}` : ''}</td>` +
        `<td class="num">${fmt(i.vcpus)}</td><td class="num">${fmt(i.memoryMb)}</td><td class="num">${fmt(i.diskGb)}</td></tr>`
      );
    });
    return (
      '<table class="instances"><tr><th>instance</th><th>state</th><th class="num">vCPU</th><th class="num">MB</th><th class="num">GB</th></tr>' +
      rows.join('') +
      '</table>'
    );
  }

  // A node's live migrations: incoming ones hold room here (a move's new hold), outgoing ones are instances
  // of this node linked to a live migration elsewhere.
  function liveMigrationsHtml(nodeId, read) {
    if (!read.instances || read.instances.nodeId !== nodeId || !read.instances.migrations)
      return '<p class="muted">loading…</p>';
    const live = read.instances.migrations.filter((m) => m.moveType === 'live-migration');
    const row = (m, way, peer) =>
      `<tr data-live="${escapeHtml(m.migrationId)}" data-way="${way}"><td>${way}</td>` +
      `<td><code title="${escapeHtml(m.instanceUuid)}">${escapeHtml(m.instanceUuid.slice(0, 8))}</code></td>` +
      `<td>${escapeHtml(peer)}</td><td>${escapeHtml(m.status)}</td>` +
      `<td class="num">${fmt(m.newUsage.vcpus)}</td><td class="num">${fmt(m.newUsage.memoryMb)}</td><td class="num">${fmt(m.newUsage.diskGb)}</td></tr>`;
    const rows = [
      ...live.filter((m) => m.destNodeId === nodeId).map((m) => row(m, 'incoming', `from ${m.sourceNodeId}`)),
      ...live.filter((m) => m.sourceNodeId === nodeId).map((m) => row(m, 'outgoing', `to ${m.destNodeId}`)),
    ];
    if (rows.length === 0) return '<p class="muted">none</p>';
    return (
      '<table class="instances"><tr><th></th><th>instance</th><th>node</th><th>status</th><th class="num">vCPU</th><th class="num">MB</th><th class="num">GB</th></tr>' +
      rows.join('') +
      '</table>'
    );
  }

  function inventoryHtml(n) {
    const r = resources(n);
    const ratios = { vcpu: n.cpuAllocationRatio, memory: n.ramAllocationRatio, disk: n.diskAllocationRatio };
    const line = (label, value) =>
      `<tr><th>${label}</th>${['vcpu', 'memory', 'disk'].map((k) => `<td class="num">${fmt(value(k))}</td>`).join('')}</tr>`;
    return (
      '<table class="inventory"><tr><th></th><th class="num">vCPU</th><th class="num">memory MB</th><th class="num">disk GB</th></tr>' +
      line('total', (k) => r[k].total) +
      line('reserved', (k) => r[k].reserved) +
      line('used', (k) => r[k].used) +
      line('free', (k) => r[k].free) +
      line('allocation ratio', (k) => ratios[k]) +
      line('limit', (k) => r[k].limit) +
      '</table>'
    );
  }

  function poolsHtml(n) {
    const pools = (n.pciDevicePools || [])
      .map(
        (p) =>
          `<tr><td><code>${escapeHtml(p.vendorId)}:${escapeHtml(p.productId)}</code></td><td>${escapeHtml(p.deviceType)}</td>` +
          `<td>${p.numaNode === null ? '–' : p.numaNode}</td><td>${escapeHtml(p.physicalNetwork || '–')}</td><td class="num">${p.free} / ${p.count}</td></tr>`,
      )
      .join('');
    return pools
      ? `<table><tr><th>vendor:product</th><th>type</th><th>NUMA</th><th>network</th><th class="num">free</th></tr>${pools}</table>`
      : '<p class="muted">none</p>';
  }

  const labels = (xs) =>
    xs && xs.length ? xs.map((x) => `<code>${escapeHtml(x)}</code>`).join(' ') : '<span class="muted">none</span>';

  /** The panel for node `n`; `read` is what app.js has read of it: { instances (null until read: { nodeId, list,
   * migrations }), error (the reason they could not be read, or null) }. */
  function detailHtml(n, read) {
    const stats = Object.entries(n.stats || {})
      .filter(([, v]) => v !== 0)
      .map(([k, v]) => `${escapeHtml(k)} ${v}`)
      .join(', ');
    return (
      `<h2><span>${escapeHtml(n.nodeId)}</span><button type="button" data-close aria-label="Close">✕</button></h2>` +
      `<p class="muted">generation ${n.generation} · ${fmt(n.runningVms)} running VMs · workload ${fmt(n.currentWorkload)}</p>` +
      `<p class="labels">traits ${labels(n.traits)} · aggregates ${labels(n.aggregates)}</p>` +
      inventoryHtml(n) +
      `<h3>PCI device pools</h3>${poolsHtml(n)}` +
      window.capacityNuma.cellsHtml(n, { bar, fmt }) +
      `<h3>Running VMs</h3>${instancesHtml(n.nodeId, read)}` +
      `<h3>Live migrations</h3>${liveMigrationsHtml(n.nodeId, read)}` +
      `<h3>Stats</h3><p class="muted">${stats || 'none'}</p>`
    );
  }

  window.capacityDetail = { detailHtml };
})();
