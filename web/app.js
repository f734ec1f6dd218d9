// The capacity page: every node of GET /nodes as a row of usage bars, refreshed every few seconds.
// Only the rows in view are in the DOM (fixed row height, rows placed by scroll position), so a fleet
// of thousands of nodes costs what a screenful does. Plain script, no build step: web/ is uploaded as is.
// Query parameters: api=URL (the API; default this page's origin), refresh=seconds, q=filter, sort=, node=ID,
// trait=T1,T2 (only nodes with all of them), group=ID (its members' nodes highlighted).
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const API = apiBase(params.get('api'));
  const REFRESH_MS = Math.max(1, Number(params.get('refresh')) || 5) * 1000;
  const ROW_H = 44; // keep equal to --row-h in style.css
  const OVERSCAN = 8;
  const TIMEOUT_MS = 10_000;

  const $ = (id) => document.getElementById(id);
  const el = {
    fleet: $('fleet'),
    filter: $('filter'),
    trait: $('trait'),
    group: $('group'),
    sort: $('sort'),
    status: $('status'),
    viewport: $('viewport'),
    spacer: $('spacer'),
    rows: $('rows'),
    empty: $('empty'),
    detail: $('detail'),
  };

  const state = {
    nodes: [],
    shown: [],
    filter: params.get('q') || '',
    traits: params.get('trait') || '',
    group: params.get('group') || '',
    /** nodeId -> members of the group there, from GET /server-groups/{group}. */
    members: new Map(),
    groupError: null,
    sort: params.get('sort') || 'name',
    selected: params.get('node') || null,
    instances: null,
    detailError: null,
    error: null,
    loaded: false,
    updatedAt: null,
    refreshes: 0,
  };

  function apiBase(given) {
    const base = new URL(given || '/', location.href);
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    return base;
  }

  /** GET /nodes answers a page at a time: every page, in nodeId order. */
  async function everyNode() {
    const all = [];
    let next;
    do {
      const body = await getJson(next ? `nodes?next=${encodeURIComponent(next)}` : 'nodes');
      all.push(...body.nodes);
      next = body.next;
    } while (next);
    return all;
  }

  async function getJson(path) {
    const res = await fetch(new URL(path, API), {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(`HTTP ${res.status}, and the answer is not JSON`);
    }
    if (!res.ok) throw new Error(body && body.message ? `${body.error}: ${body.message}` : `HTTP ${res.status}`);
    return body;
  }

  // ---- figures -------------------------------------------------------------------------------------

  // One formatter for all: toLocaleString builds a new one on every call, which a thousand rows feel.
  const numbers = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  const fmt = (n) => (Number.isFinite(n) ? numbers.format(n) : '–');

  /** Each resource of a node: the physical total, what the host keeps, what is used (reserved included), the limit. */
  function resources(n) {
    return {
      vcpu: {
        total: n.vcpus,
        reserved: n.reservedHostCpus,
        used: n.vcpusUsed,
        free: n.vcpus - n.vcpusUsed,
        limit: n.limits.vcpus,
      },
      memory: {
        total: n.memoryMb,
        reserved: n.reservedHostMemoryMb,
        used: n.memoryMbUsed,
        free: n.freeRamMb,
        limit: n.limits.memoryMb,
      },
      disk: {
        total: n.localGb,
        reserved: n.reservedHostDiskMb / 1024,
        used: n.localGbUsed,
        free: n.freeDiskGb,
        limit: n.limits.diskGb,
      },
    };
  }

  function pci(n) {
    let count = 0;
    let free = 0;
    for (const p of n.pciDevicePools || []) {
      count += p.count;
      free += p.free;
    }
    return { count, free };
  }

  const share = (r) => (r.limit > 0 ? r.used / r.limit : r.used > 0 ? Infinity : 0);

  // ---- rendering -----------------------------------------------------------------------------------

  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  function segment(cls, from, to, scale) {
    if (!(to > from)) return '';
    return `<i class="${cls}" style="left:${((from / scale) * 100).toFixed(2)}%;width:${(((to - from) / scale) * 100).toFixed(2)}%"></i>`;
  }

  /** The bar spans the largest of total, limit and used: reserved, then claims, then free physical room; the hatched
   * background beyond is what the allocation ratio adds, up to the limit's mark; use past the limit is red. */
  function bar(r) {
    const scale = Math.max(r.total, r.limit, r.used, 1e-9);
    const used = Math.max(r.used, 0);
    const reserved = Math.min(Math.max(r.reserved, 0), used);
    const claimsEnd = Math.min(used, Math.max(r.limit, reserved));
    return (
      '<div class="bar">' +
      segment('reserved', 0, reserved, scale) +
      segment('used', reserved, claimsEnd, scale) +
      segment('beyond', claimsEnd, used, scale) +
      segment('free', used, r.total, scale) +
      `<i class="limit" style="left:${((r.limit / scale) * 100).toFixed(2)}%"></i>` +
      '</div>'
    );
  }

  function resourceCell(kind, r) {
    const title = `used ${fmt(r.used)} of ${fmt(r.total)} (${fmt(r.reserved)} reserved for the host), free ${fmt(r.free)}, limit ${fmt(r.limit)}`;
    return (
      `<div class="cell ${kind}" role="cell" title="${title}" data-used="${r.used}" data-free="${r.free}" data-total="${r.total}" data-limit="${r.limit}">` +
      `<div class="figures"><span class="used"><b>${fmt(r.used)}</b> / ${fmt(r.total)}</span>` +
      // Free below zero is what an allocation ratio allows; only use past the limit is a problem.
      `<span class="free${r.used > r.limit ? ' neg' : ''}">free ${fmt(r.free)}</span></div>` +
      bar(r) +
      '</div>'
    );
  }

  function pciCell(n) {
    const p = pci(n);
    if (p.count === 0) return '<div class="cell pci figures" role="cell" data-count="0" data-free="0">none</div>';
    const pools = (n.pciDevicePools || [])
      .map((x) => `${x.vendorId}:${x.productId} ${x.deviceType} ${x.free}/${x.count} free`)
      .join('\n');
    return (
      `<div class="cell pci" role="cell" title="${escapeHtml(pools)}" data-count="${p.count}" data-free="${p.free}">` +
      `<div class="figures"><span><b>${p.free}</b> / ${p.count} free</span></div>` +
      bar({ total: p.count, reserved: 0, used: p.count - p.free, limit: p.count }) +
      '</div>'
    );
  }

  function rowHtml(n) {
    const r = resources(n);
    const selected = n.nodeId === state.selected ? ' selected' : '';
    const members = state.members.get(n.nodeId) || 0;
    const id = escapeHtml(n.nodeId);
    const badge = members
      ? ` <span class="members" title="${members} member(s) of server group ${escapeHtml(state.group)}">${members}</span>`
      : '';
    return (
      `<div class="row${selected}${members ? ' member' : ''}" role="row" tabindex="-1" data-node="${id}" data-members="${members}">` +
      `<span class="cell name" role="cell" title="${id}">${id}${badge}</span>` +
      resourceCell('vcpu', r.vcpu) +
      resourceCell('memory', r.memory) +
      resourceCell('disk', r.disk) +
      pciCell(n) +
      `<span class="cell num vms" role="cell" title="running VMs">${fmt(n.runningVms)}</span>` +
      '</div>'
    );
  }

  const collator = new Intl.Collator('en', { numeric: true });
  const SORTS = {
    name: (a, b) => collator.compare(a.nodeId, b.nodeId),
    vcpus: (a, b) => share(resources(b).vcpu) - share(resources(a).vcpu),
    memory: (a, b) => share(resources(b).memory) - share(resources(a).memory),
    disk: (a, b) => share(resources(b).disk) - share(resources(a).disk),
    vms: (a, b) => b.runningVms - a.runningVms,
  };

  // Sorted once per refresh or change of order; typing in the filter only filters.
  let sorted = { nodes: null, sort: null, list: [] };

  function recompute() {
    if (sorted.nodes !== state.nodes || sorted.sort !== state.sort) {
      const order = SORTS[state.sort] || SORTS.name;
      const list = state.nodes.slice().sort((a, b) => order(a, b) || SORTS.name(a, b));
      sorted = { nodes: state.nodes, sort: state.sort, list };
    }
    const q = state.filter.trim().toLowerCase();
    const traits = wantedTraits();
    state.shown = sorted.list.filter(
      (n) => (!q || n.nodeId.toLowerCase().includes(q)) && traits.every((t) => (n.traits || []).includes(t)),
    );
  }

  const wantedTraits = () =>
    state.traits
      .split(',')
      .map((t) => t.trim().toUpperCase())
      .filter(Boolean);

  function renderRows() {
    const total = state.shown.length;
    const top = el.viewport.scrollTop;
    const height = el.viewport.clientHeight || 800;
    const start = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const end = Math.min(total, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    el.rows.style.transform = `translateY(${start * ROW_H}px)`;
    el.rows.innerHTML = state.shown.slice(start, end).map(rowHtml).join('');
  }

  function renderFleet() {
    const sum = { vcpu: [0, 0], memory: [0, 0], disk: [0, 0], vms: 0, pci: [0, 0] };
    for (const n of state.shown) {
      const r = resources(n);
      for (const k of ['vcpu', 'memory', 'disk']) {
        sum[k][0] += r[k].used;
        sum[k][1] += r[k].total;
      }
      const p = pci(n);
      sum.pci[0] += p.free;
      sum.pci[1] += p.count;
      sum.vms += n.runningVms;
    }
    const count =
      state.shown.length === state.nodes.length
        ? `${fmt(state.nodes.length)} nodes`
        : `${fmt(state.shown.length)} of ${fmt(state.nodes.length)} nodes`;
    el.fleet.innerHTML =
      `<span id="count"><b>${count}</b></span>` +
      `<span>vCPU <b>${fmt(sum.vcpu[0])}</b> / ${fmt(sum.vcpu[1])}</span>` +
      `<span>memory <b>${fmt(sum.memory[0])}</b> / ${fmt(sum.memory[1])} MB</span>` +
      `<span>disk <b>${fmt(sum.disk[0])}</b> / ${fmt(sum.disk[1])} GB</span>` +
      `<span>PCI free <b>${fmt(sum.pci[0])}</b> / ${fmt(sum.pci[1])}</span>` +
      `<span>VMs <b>${fmt(sum.vms)}</b></span>`;
  }

  function renderStatus() {
    const at = state.updatedAt ? state.updatedAt.toLocaleTimeString('en-GB') : 'never';
    el.status.classList.toggle('error', Boolean(state.error));
    el.status.textContent = state.error
      ? `${state.error} (last update ${at})`
      : `updated ${at}, every ${REFRESH_MS / 1000} s${state.groupError ? `; ${state.groupError}` : ''}`;
  }

  function update() {
    recompute();
    el.spacer.style.height = `${state.shown.length * ROW_H}px`;
    el.empty.hidden = !(state.loaded && state.shown.length === 0);
    el.empty.textContent =
      state.nodes.length === 0
        ? 'No nodes are registered yet.'
        : wantedTraits().length
          ? `No node matches “${state.filter}” with traits ${wantedTraits().join(', ')}.`
          : `No node name contains “${state.filter}”.`;
    renderRows();
    renderFleet();
    renderStatus();
    renderDetail();
    document.body.dataset.refreshes = String(state.refreshes);
  }

  // ---- the selected node -----------------------------------------------------------------------------

  function instancesHtml(nodeId) {
    if (state.detailError) return `<p class="muted">${escapeHtml(state.detailError)}</p>`;
    if (!state.instances || state.instances.nodeId !== nodeId) return '<p class="muted">loading…</p>';
    const list = state.instances.list;
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
  function liveMigrationsHtml(nodeId) {
    if (!state.instances || state.instances.nodeId !== nodeId || !state.instances.migrations)
      return '<p class="muted">loading…</p>';
    const live = state.instances.migrations.filter((m) => m.moveType === 'live-migration');
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

  function renderDetail() {
    const n = state.selected && state.nodes.find((x) => x.nodeId === state.selected);
    el.detail.hidden = !n;
    if (!n) return;
    const r = resources(n);
    const kinds = ['vcpu', 'memory', 'disk'];
    const ratios = { vcpu: n.cpuAllocationRatio, memory: n.ramAllocationRatio, disk: n.diskAllocationRatio };
    const line = (label, values) =>
      `<tr><th>${label}</th>${values.map((v) => `<td class="num">${fmt(v)}</td>`).join('')}</tr>`;
    const inventory =
      line(
        'total',
        kinds.map((k) => r[k].total),
      ) +
      line(
        'reserved',
        kinds.map((k) => r[k].reserved),
      ) +
      line(
        'used',
        kinds.map((k) => r[k].used),
      ) +
      line(
        'free',
        kinds.map((k) => r[k].free),
      ) +
      line(
        'allocation ratio',
        kinds.map((k) => ratios[k]),
      ) +
      line(
        'limit',
        kinds.map((k) => r[k].limit),
      );
    const pools = (n.pciDevicePools || [])
      .map(
        (p) =>
          `<tr><td><code>${escapeHtml(p.vendorId)}:${escapeHtml(p.productId)}</code></td><td>${escapeHtml(p.deviceType)}</td>` +
          `<td>${p.numaNode === null ? '–' : p.numaNode}</td><td>${escapeHtml(p.physicalNetwork || '–')}</td><td class="num">${p.free} / ${p.count}</td></tr>`,
      )
      .join('');
    const stats = Object.entries(n.stats || {})
      .filter(([, v]) => v !== 0)
      .map(([k, v]) => `${escapeHtml(k)} ${v}`)
      .join(', ');
    el.detail.innerHTML =
      `<h2><span>${escapeHtml(n.nodeId)}</span><button type="button" data-close aria-label="Close">✕</button></h2>` +
      `<p class="muted">generation ${n.generation} · ${fmt(n.runningVms)} running VMs · workload ${fmt(n.currentWorkload)}</p>` +
      `<p class="labels">traits ${labels(n.traits)} · aggregates ${labels(n.aggregates)}</p>` +
      '<table class="inventory"><tr><th></th><th class="num">vCPU</th><th class="num">memory MB</th><th class="num">disk GB</th></tr>' +
      inventory +
      '</table>' +
      '<h3>PCI device pools</h3>' +
      (pools
        ? `<table><tr><th>vendor:product</th><th>type</th><th>NUMA</th><th>network</th><th class="num">free</th></tr>${pools}</table>`
        : '<p class="muted">none</p>') +
      window.capacityNuma.cellsHtml(n, { bar, fmt }) +
      `<h3>Running VMs</h3>${instancesHtml(n.nodeId)}` +
      `<h3>Live migrations</h3>${liveMigrationsHtml(n.nodeId)}` +
      `<h3>Stats</h3><p class="muted">${stats || 'none'}</p>`;
  }

  const labels = (xs) =>
    xs && xs.length ? xs.map((x) => `<code>${escapeHtml(x)}</code>`).join(' ') : '<span class="muted">none</span>';

  /** The members of the group named, per node; an unknown group highlights nothing and says so. */
  async function loadGroup() {
    const group = state.group.trim();
    if (!group) {
      state.members = new Map();
      state.groupError = null;
      return;
    }
    try {
      const body = await getJson(`server-groups/${encodeURIComponent(group)}`);
      const members = new Map();
      for (const m of body.members) members.set(m.nodeId, (members.get(m.nodeId) || 0) + 1);
      state.members = members;
      state.groupError = null;
    } catch (error) {
      state.members = new Map();
      state.groupError = `server group ${group}: ${error.message}`;
    }
  }

  async function loadInstances() {
    const nodeId = state.selected;
    if (!nodeId) return;
    try {
      const body = await getJson(`nodes/${encodeURIComponent(nodeId)}/instances`);
      if (state.selected !== nodeId) return;
      state.instances = { nodeId, list: body.instances, migrations: null };
      state.detailError = null;
      renderDetail();
      // The migrations behind the holds here and behind this node's moving instances, each read once.
      const ids = new Set([
        ...(body.holds || []).map((h) => h.migrationId),
        ...body.instances.filter((i) => i.migrationId).map((i) => i.migrationId),
      ]);
      const found = await Promise.all(
        [...ids].map((id) => getJson(`migrations/${encodeURIComponent(id)}`).catch(() => null)),
      );
      if (state.selected !== nodeId || !state.instances || state.instances.nodeId !== nodeId) return;
      state.instances.migrations = found.filter(Boolean);
    } catch (error) {
      if (state.selected === nodeId) state.detailError = error.message;
    }
    renderDetail();
  }

  function select(nodeId) {
    state.selected = nodeId;
    state.instances = null;
    state.detailError = null;
    remember();
    update();
    if (nodeId) loadInstances();
  }

  // ---- refreshing ------------------------------------------------------------------------------------

  let timer;
  let inFlight = false;

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    clearTimeout(timer);
    try {
      [state.nodes] = await Promise.all([everyNode(), loadGroup()]);
      state.error = null;
      state.updatedAt = new Date();
    } catch (error) {
      state.error = `cannot read ${new URL('nodes', API)}: ${error.message}`;
    } finally {
      inFlight = false;
      state.loaded = true;
      state.refreshes += 1;
    }
    update();
    if (state.selected) loadInstances();
    // A hidden tab does not poll; it refreshes when shown again.
    timer = setTimeout(() => (document.hidden ? undefined : refresh()), REFRESH_MS);
  }

  function remember() {
    const url = new URL(location.href);
    const values = {
      q: state.filter,
      trait: state.traits,
      group: state.group,
      sort: state.sort === 'name' ? '' : state.sort,
      node: state.selected || '',
    };
    for (const [key, value] of Object.entries(values)) {
      if (value) url.searchParams.set(key, value);
      else url.searchParams.delete(key);
    }
    history.replaceState(null, '', url);
  }

  // ---- events ----------------------------------------------------------------------------------------

  el.filter.value = state.filter;
  el.trait.value = state.traits;
  el.group.value = state.group;
  el.trait.addEventListener('input', () => {
    state.traits = el.trait.value;
    el.viewport.scrollTop = 0;
    remember();
    update();
  });
  el.group.addEventListener('change', async () => {
    state.group = el.group.value;
    remember();
    await loadGroup();
    update();
  });
  el.sort.value = SORTS[state.sort] ? state.sort : 'name';
  el.filter.addEventListener('input', () => {
    state.filter = el.filter.value;
    el.viewport.scrollTop = 0;
    remember();
    update();
  });
  el.sort.addEventListener('change', () => {
    state.sort = el.sort.value;
    remember();
    update();
  });
  let frame = 0;
  el.viewport.addEventListener('scroll', () => {
    if (!frame) frame = requestAnimationFrame(() => ((frame = 0), renderRows()));
  });
  addEventListener('resize', () => renderRows());
  el.rows.addEventListener('click', (event) => {
    const row = event.target.closest('[data-node]');
    if (row) select(row.dataset.node === state.selected ? null : row.dataset.node);
  });
  el.detail.addEventListener('click', (event) => {
    if (event.target.closest('[data-close]')) select(null);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && state.selected) select(null);
    if (event.key === '/' && document.activeElement !== el.filter) {
      event.preventDefault();
      el.filter.focus();
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });

  refresh();
})();
