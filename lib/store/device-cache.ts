// The per-container device cache: a short-lived copy of each node's devices, and the devices this
// container's own writes are taking or giving back right now. All are only hints: a write's conditions decide.
import { busyAtRisk, type DeviceChange, type PciDevice } from '../domain';

// A claim chosen from a stale copy fails its conditions and reads again, so the copy only saves a read
// when it is still right.
const FRESH_MS = 2_000;

/** A write of this container in flight: the PF busy counts it changes, and when it settles. */
interface Flight {
  since: number;
  busy: Map<string, number>;
  settled: Promise<void>;
}

export class DeviceCache {
  private readonly seen = new Map<string, { at: number; devices: Map<string, PciDevice> }>();
  private readonly taking = new Map<string, Set<string>>();
  private readonly flights = new Map<string, Set<Flight>>();
  /** Per node: how many times the copy was found wrong, and a read in flight with the count it began at. */
  private readonly forgotten = new Map<string, number>();
  private readonly reading = new Map<string, { epoch: number; read: Promise<unknown> }>();
  /** When the read behind a set of devices was made, for the sets computed from a copy or a read. */
  private readonly readAt = new WeakMap<Map<string, PciDevice>, number>();

  /**
   * The devices as a read found them just now, or as computed from the read behind them (see derivedFrom).
   * A read sent before one of this container's writes committed may answer after it: a device the copy already
   * knows at a later version (every change bumps it) keeps that version, so the copy never goes back in time.
   * Answers the copy as kept.
   */
  remember(nodeId: string, devices: Map<string, PciDevice>): Map<string, PciDevice> {
    const at = this.readAt.get(devices) ?? Date.now();
    const known = this.seen.get(nodeId)?.devices;
    let kept = devices;
    for (const [address, d] of devices) {
      const mine = known?.get(address);
      if (!mine || mine.version <= d.version) continue;
      if (kept === devices) kept = new Map(devices);
      kept.set(address, mine);
    }
    this.readAt.set(kept, at);
    this.seen.set(nodeId, { at, devices: kept });
    return kept;
  }

  /**
   * `derived` (a write's outcome) was computed from `from`: it is only as fresh as the read behind `from`, so
   * a write made from an old copy does not pass its view off as fresh (it misses what others wrote since).
   */
  derivedFrom(derived: Map<string, PciDevice>, from: Map<string, PciDevice>): void {
    const at = this.readAt.get(from);
    if (at !== undefined) this.readAt.set(derived, at);
  }

  fresh(nodeId: string): Map<string, PciDevice> | undefined {
    const copy = this.seen.get(nodeId);
    return copy && Date.now() - copy.at < FRESH_MS ? copy.devices : undefined;
  }

  forget(nodeId: string): void {
    this.seen.delete(nodeId);
    this.forgotten.set(nodeId, (this.forgotten.get(nodeId) ?? 0) + 1);
  }

  /**
   * `read()`, or the read of the node's devices this container already has in flight: claims that find the copy
   * expired at once read it once. Not a read that began before the copy was last forgotten (a lost race): it may
   * miss what the race lost to.
   */
  shared<T>(nodeId: string, read: () => Promise<T>): Promise<T> {
    const epoch = this.forgotten.get(nodeId) ?? 0;
    const inFlight = this.reading.get(nodeId);
    if (inFlight?.epoch === epoch) return inFlight.read as Promise<T>;
    const started = read().finally(() => {
      if (this.reading.get(nodeId)?.read === started) this.reading.delete(nodeId);
    });
    this.reading.set(nodeId, { epoch, read: started });
    return started;
  }

  /**
   * After a write commits, the copy is what the write made it. With `changes`, they are applied to the copy
   * this container already has (which other claims of this container may have moved on since this one
   * read it), keeping that copy's age: local writes never make a copy look fresher than its last read.
   */
  written(nodeId: string, after: Map<string, PciDevice>, changes?: DeviceChange[]): void {
    const copy = this.seen.get(nodeId);
    if (!changes || !copy || Date.now() - copy.at >= FRESH_MS) {
      this.remember(nodeId, after);
      return;
    }
    for (const c of changes) {
      const mine = copy.devices.get(c.address);
      // A PF's busy count moved by this write's delta, from whatever the copy counts now.
      if (c.busy && c.after && mine)
        copy.devices.set(c.address, { ...c.after, busyChildren: Math.max(0, mine.busyChildren + c.busy.delta) });
      else if (c.after) copy.devices.set(c.address, c.after);
      else copy.devices.delete(c.address);
    }
  }

  /**
   * Marks a write of this container as in flight until the returned `done` is called: the devices a claim is
   * taking, and the PF busy counts its `changes` move, which a later write of the same PFs may wait for (clash).
   */
  hold(nodeId: string, addresses: string[], changes: DeviceChange[] = []): () => void {
    const set = this.taking.get(nodeId) ?? new Set<string>();
    this.taking.set(nodeId, set);
    for (const a of addresses) set.add(a);
    const flights = this.flights.get(nodeId) ?? new Set<Flight>();
    this.flights.set(nodeId, flights);
    let settle = () => {};
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const busy = new Map(changes.flatMap((c) => (c.busy ? [[c.address, c.busy.delta] as const] : [])));
    const flight: Flight = { since: Date.now(), busy, settled };
    flights.add(flight);
    return () => {
      for (const a of addresses) set.delete(a);
      if (set.size === 0) this.taking.delete(nodeId);
      flights.delete(flight);
      if (flights.size === 0) this.flights.delete(nodeId);
      settle();
    };
  }

  /**
   * What a write of `changes` had better wait for (rule P6): this container's writes in flight whose changes
   * of a PF's busy count could make this write's condition on that PF fail, whichever commits first. Undefined
   * when there are none. A write never sent (its `done` never called) stops counting after FRESH_MS.
   */
  clash(nodeId: string, changes: DeviceChange[]): Promise<void> | undefined {
    const now = Date.now();
    const live = [...(this.flights.get(nodeId) ?? [])].filter((f) => now - f.since < FRESH_MS);
    const waits = new Set<Flight>();
    for (const c of changes) {
      const on = live.filter((f) => f.busy.has(c.address));
      if (
        c.busy &&
        busyAtRisk(
          c.busy,
          on.map((f) => f.busy.get(c.address) ?? 0),
        )
      )
        on.forEach((f) => waits.add(f));
    }
    if (!waits.size) return undefined;
    const oldest = Math.min(...[...waits].map((f) => f.since));
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<void>((resolve) => (timer = setTimeout(resolve, oldest + FRESH_MS - now)));
    timer?.unref();
    return Promise.race([Promise.all([...waits].map((f) => f.settled)).then(() => undefined), expiry]).finally(() =>
      clearTimeout(timer),
    );
  }

  /** The devices with those this container is taking shown as taken, so that choose() passes them over. */
  withoutTaking(nodeId: string, devices: Map<string, PciDevice>): Map<string, PciDevice> {
    const busy = this.taking.get(nodeId);
    if (!busy?.size) return devices;
    const view = new Map(devices);
    for (const a of busy) {
      const d = view.get(a);
      if (d && d.owner === undefined) view.set(a, { ...d, owner: '(being taken)' });
    }
    return view;
  }
}
