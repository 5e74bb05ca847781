// Merging a caller's options over defaults. `{ ...DEFAULTS, ...options }` lets an option passed as
// `undefined` replace its default (a form field left empty, an experiment forwarding an unset
// flag), which once trained no epoch at all and gave NaN losses; here undefined means "the default".

/** `options` without the keys whose value is undefined. */
export function defined<O extends object>(options: O | undefined): Partial<O> {
  if (!options) return {};
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<O>;
}

/** `defaults` overridden by every option the caller gave a value; undefined keeps the default. */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O | undefined): D & O {
  return { ...defaults, ...defined(options) } as D & O;
}
