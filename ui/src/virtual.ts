// Which items of a fixed-size grid are on screen (plus a row of slack each way): the gallery
// renders only those, so thousands of renders scroll smoothly.
export function visibleRange(count: number, columns: number, rowHeight: number, scrollTop: number, viewport: number): [number, number] {
  if (count === 0 || columns <= 0 || rowHeight <= 0) return [0, 0];
  const firstRow = Math.max(0, Math.floor(scrollTop / rowHeight) - 1);
  const lastRow = Math.ceil((scrollTop + viewport) / rowHeight) + 1;
  return [Math.min(count, firstRow * columns), Math.min(count, lastRow * columns)];
}
