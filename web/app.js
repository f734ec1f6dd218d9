// The capacity page: every node of GET /nodes as a row of usage bars, refreshed every few seconds.
// Only the rows in view are in the DOM (fixed row height, rows placed by scroll position), so a fleet
// of thousands of nodes costs what a screenful does. Here the state, the refresh loop and the events; the requests
// go through api.js and the HTML comes from rows.js, detail.js and numa.js, loaded before this (index.html), so that
// each file holds one concern. Plain scripts, no build step: web/ is uploaded as is.
// Query parameters: api=URL (the API; default this page's origin), refresh=seconds, q=filter, sort=, node=ID,
// trait=T1,T2 (only nodes with all of them), group=ID (its members' nodes highlighted).
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const REFRESH_MS = Math.max(1, Number(params.get('refresh')) || 5) * 1000;
  const ROW_H = 44; // keep equal to --row-h in style.css
  const OVERSCAN = 8;

  const { base: API, getJson, everyNode } = window.capacityApi;
  const { rowHtml, fleetHtml, SORTS } = window.capacityRows;
  const { detailHtml } = window.capacityDetail;

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

  // ---- the rows in view ------------------------------------------------------------------------------

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
    const view = { selected: state.selected, members: state.members, group: state.group };
    el.rows.innerHTML = state.shown
      .slice(start, end)
      .map((n) => rowHtml(n, view))
      .join('');
  }

  function renderFleet() {
    el.fleet.innerHTML = fleetHtml(state.shown, state.nodes.length);
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

  function renderDetail() {
    const n = state.selected && state.nodes.find((x) => x.nodeId === state.selected);
    el.detail.hidden = !n;
    if (!n) return;
    el.detail.innerHTML = detailHtml(n, { instances: state.instances, error: state.detailError });
  }

  // ---- reading ---------------------------------------------------------------------------------------

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
