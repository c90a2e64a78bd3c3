/** How many parameter sets the process shares at most (see ServerParameters). */
const maxShared = 256;
let sharedCount = 0;

/**
 * The server parameters a connection was told (ParameterStatus: server_version, TimeZone,
 * ...), immutable while shared. Every connection to a server is told the same dozen or so, in
 * the same order, at startup, so each report leads from one shared set to the next, and the
 * connections end up holding one set between them, as objects share a hidden class. The process
 * shares at most 256 sets; past that, a connection that is told something new keeps a copy of
 * its own, which later reports change in place. Never blocks.
 */
export class ServerParameters {
  /** No parameter: where every connection starts. */
  static readonly none = new ServerParameters(new Map(), true);

  private readonly values: Map<string, string>;
  /** True while other connections may hold this set: it is then never changed. */
  private readonly shared: boolean;
  /** The shared set each report leads to from this one, by `name\0value`; shared sets only. */
  private next: Map<string, ServerParameters> | undefined;

  private constructor(values: Map<string, string>, shared: boolean) {
    this.values = values;
    this.shared = shared;
  }

  /** The last value reported for `name`, or undefined. */
  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /**
   * The parameters after a report that `name` is `value`: this set when nothing changes or
   * when it is a connection's own (changed in place), else a shared set or a new own copy.
   */
  with(name: string, value: string): ServerParameters {
    if (this.values.get(name) === value) return this;
    if (!this.shared) {
      this.values.set(name, value);
      return this;
    }
    const key = `${name}\0${value}`;
    const known = this.next?.get(key);
    if (known !== undefined) return known;
    const values = new Map(this.values).set(name, value);
    if (sharedCount >= maxShared) return new ServerParameters(values, false);
    sharedCount++;
    const shared = new ServerParameters(values, true);
    this.next ??= new Map();
    this.next.set(key, shared);
    return shared;
  }
}
