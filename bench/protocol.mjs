// The protocol between a benchmark script and `npm run bench` (bench/run-all.mjs).
//
// A script takes part by holding the line `// bench: <name>` near its top. It may print anything
// (people read it), and prints as its LAST stdout line one JSON object:
//
//   {"bench":"<name>","rows":[{"measure":"...","value":N,"unit":"...","baseline":N|null,
//     "baselineName":"...","ratio":N|null,"target":"...","note":"..."}]}
//
// `baseline` is a figure measured in the same run (the raw pipe, a floor), `ratio` value/baseline
// as the target reads it (null when there is no baseline or it must not be quoted, e.g. when the
// baseline was capped by its own load generator: the note says why). The runner prints every
// row of every script in one table; a script that fails or prints no such line becomes a row
// that says so.

/** `--name value` and bare `--flag` (true) arguments. */
export function parseArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(
    argv.reduce((pairs, a, i, all) => {
      if (!a.startsWith('--')) return pairs;
      const next = all[i + 1];
      pairs.push([a.slice(2), next === undefined || next.startsWith('--') ? 'true' : next]);
      return pairs;
    }, []),
  );
}

/**
 * One row of the table. `ratio` defaults to value / baseline rounded to 3 places when both are
 * numbers; pass `ratio: null` to withhold it.
 */
export function row({ measure, value, unit, baseline = null, baselineName = null, ratio, target = null, note = null }) {
  const computed = ratio !== undefined ? ratio : typeof value === 'number' && typeof baseline === 'number' && baseline !== 0 ? +(value / baseline).toFixed(3) : null;
  return { measure, value, unit, baseline, baselineName, ratio: computed, target, ...(note ? { note } : {}) };
}

/** Prints the result line; call it last. */
export function printResult(bench, rows) {
  console.log(JSON.stringify({ bench, rows }));
}

/** The median of numbers (the middle one of three runs). */
export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
