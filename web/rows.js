// The capacity page's figures and the fleet's HTML: a node's resources as bars, its row, the fleet totals and the
// orders the rows sort by. Pure functions of a node (and of what the page highlights), apart from app.js's state and
// fetching, so that the detail (detail.js) and the NUMA cells (numa.js) draw their bars and numbers with the same
// ones. Loaded before detail.js and app.js (index.html).
'use strict';

(() => {
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

  /** A node's row; `view` is what the page highlights: { selected (a nodeId or null), members (nodeId -> count of
   * the group's members there), group (the group's name) }. */
  function rowHtml(n, view) {
    const r = resources(n);
    const selected = n.nodeId === view.selected ? ' selected' : '';
    const members = view.members.get(n.nodeId) || 0;
    const id = escapeHtml(n.nodeId);
    const badge = members
      ? ` <span class="members" title="${members} member(s) of server group ${escapeHtml(view.group)}">${members}</span>`
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

  /** The header's totals over the nodes shown, and how many of all the nodes (`total`) they are. */
  function fleetHtml(shown, total) {
    const sum = { vcpu: [0, 0], memory: [0, 0], disk: [0, 0], vms: 0, pci: [0, 0] };
    for (const n of shown) {
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
    const count = shown.length === total ? `${fmt(total)} nodes` : `${fmt(shown.length)} of ${fmt(total)} nodes`;
    return (
      `<span id="count"><b>${count}</b></span>` +
      `<span>vCPU <b>${fmt(sum.vcpu[0])}</b> / ${fmt(sum.vcpu[1])}</span>` +
      `<span>memory <b>${fmt(sum.memory[0])}</b> / ${fmt(sum.memory[1])} MB</span>` +
      `<span>disk <b>${fmt(sum.disk[0])}</b> / ${fmt(sum.disk[1])} GB</span>` +
      `<span>PCI free <b>${fmt(sum.pci[0])}</b> / ${fmt(sum.pci[1])}</span>` +
      `<span>VMs <b>${fmt(sum.vms)}</b></span>`
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

  window.capacityRows = { fmt, escapeHtml, resources, bar, rowHtml, fleetHtml, SORTS };
})();
