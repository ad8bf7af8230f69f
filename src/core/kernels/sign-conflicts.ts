/** CPU twin of a diagnostics reduction: elements where nonzero inputs disagree in sign. */
// xs: K × [n]
export function signConflicts(xs: readonly Float32Array[]): number {
  const n = xs[0]?.length ?? 0;
  let conflicts = 0;
  for (let i = 0; i < n; i++) {
    let pos = false;
    let neg = false;
    for (const x of xs) {
      if (x[i]! > 0) pos = true;
      else if (x[i]! < 0) neg = true;
    }
    if (pos && neg) conflicts++;
  }
  return conflicts;
}
