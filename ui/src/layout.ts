// The call grid's geometry: how many columns, and how large each 16:9 tile, so that every tile
// fits the space left between the header and the control bar. Pure; see layout.test.ts (grid.ts
// applies it to the page).

export interface GridLayout {
  columns: number;
  rows: number;
  /** Whole pixels; the height follows from the aspect ratio. */
  tileWidth: number;
  tileHeight: number;
}

export interface GridOptions {
  /** Space between tiles, in pixels. */
  gap?: number;
  /** Width / height of a tile. */
  aspect?: number;
  /** Tiles never grow wider than this (a lone tile on a large screen stays a sensible size). */
  maxTileWidth?: number;
}

/**
 * The column count that gives `count` tiles of the given aspect ratio the largest size inside a
 * `width`×`height` box (gaps included): a wide box puts tiles side by side, a tall one stacks
 * them, more tiles mean more columns. Ties go to fewer columns (rows fill up first).
 */
export function gridLayout(count: number, width: number, height: number, options: GridOptions = {}): GridLayout {
  const gap = options.gap ?? 12;
  const aspect = options.aspect ?? 16 / 9;
  const maxTileWidth = options.maxTileWidth ?? Infinity;
  const n = Math.max(1, Math.floor(count));
  let best: GridLayout = { columns: 1, rows: n, tileWidth: 0, tileHeight: 0 };
  for (let columns = 1; columns <= n; columns++) {
    const rows = Math.ceil(n / columns);
    // A layout whose last row would be empty is the same as one with fewer columns.
    if ((rows - 1) * columns >= n) continue;
    const byWidth = (width - (columns - 1) * gap) / columns;
    const byHeight = ((height - (rows - 1) * gap) / rows) * aspect;
    const tileWidth = Math.max(0, Math.floor(Math.min(byWidth, byHeight, maxTileWidth)));
    if (tileWidth > best.tileWidth) {
      best = { columns, rows, tileWidth, tileHeight: Math.floor(tileWidth / aspect) };
    }
  }
  return best;
}

/** The column count alone (see `gridLayout`). */
export function gridColumns(count: number, width: number, height: number, options: GridOptions = {}): number {
  return gridLayout(count, width, height, options).columns;
}
