// The schemas the handlers validate with use zod's functional build (zod/mini): the same checks, issues and
// messages as the chained API (both are zod's core underneath), in about a third of the bytes a function's bundle
// carried, as the bundler keeps only the checks used. Each file imports zod/mini itself (a re-exported namespace
// would keep all of it) and this module for the English messages, which the chained build sets on loading.
import { en } from 'zod/locales';
import * as z from 'zod/mini';

z.config(en());

/**
 * Makes a schema when its module loads. Written `/* @__PURE__ *\/ schema(() => ...)` at the top level, it is a call
 * esbuild may drop from a bundle that never uses the schema: zod's own no-side-effect marks do not carry across
 * modules, so without it every Lambda built every schema of the modules it imports (~20 ms of a cold start).
 */
export const schema = <T>(make: () => T): T => make();

/** A whole number from min to max; the chained API's z.number().int().min(min).max(max). */
export const wholeNumber = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));

/** A query parameter that is a whole number from min to max, with one message for every way it can be wrong. */
export const wholeQuery = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a whole number' })
    .check(
      z.int({ message: 'must be a whole number' }),
      z.gte(min, { message: `must be ${min} to ${max}` }),
      z.lte(max, { message: `must be ${min} to ${max}` }),
    );
