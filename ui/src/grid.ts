// Keeps the call grid fitted to its stage (the space between the header and the control bar):
// whenever the window is resized or a tile comes or goes, `gridLayout` (layout.ts) picks the
// column count and tile size, applied as CSS variables. The tiles themselves are call.ts's.
import { gridLayout, type GridLayout } from "./layout";

/** A lone tile (just you in a room) stays this wide at most on a large screen. */
export const LONE_TILE_MAX_WIDTH = 960;
/** No tile grows wider than this. */
export const TILE_MAX_WIDTH = 1280;

export class GridFitter {
  /** The layout last applied (read by tests). */
  layout: GridLayout | null = null;

  /** `limit`: the element the tiles must stay above (the control bar), whatever the stage's own
   *  height says while the page reflows; `watch`: elements whose size changes the space left
   *  (the device notices above the grid, which can appear after the tiles). */
  constructor(
    private stage: HTMLElement,
    private grid: HTMLElement,
    private limit: HTMLElement | null = null,
    watch: HTMLElement[] = [],
  ) {
    if (typeof ResizeObserver !== "undefined") {
      const observer = new ResizeObserver(() => this.fit());
      for (const e of [stage, ...watch]) observer.observe(e);
    } else window.addEventListener("resize", () => this.fit());
    new MutationObserver(() => this.fit()).observe(grid, { childList: true });
    // And twice a second whatever happened: a reflow the observers did not report (seen: a
    // lone tile laid out before the page settled stayed under the control bar) is mended within
    // half a second. A fit that changes nothing costs a few reads.
    setInterval(() => this.fit(), 500);
    this.fit();
  }

  fit(): void {
    const count = [...this.grid.children].filter((c) => c.classList.contains("tile") && !(c as HTMLElement).hidden).length;
    const stage = getComputedStyle(this.stage);
    const width = this.stage.clientWidth - px(stage.paddingLeft) - px(stage.paddingRight);
    let height = this.stage.clientHeight - px(stage.paddingTop) - px(stage.paddingBottom);
    if (this.limit && this.limit.offsetParent !== null) {
      const room = this.limit.getBoundingClientRect().top - this.stage.getBoundingClientRect().top;
      height = Math.min(height, room - px(stage.paddingTop) - px(stage.paddingBottom));
    }
    const gap = px(getComputedStyle(this.grid).columnGap) || 12;
    const layout = gridLayout(count, width, height, { gap, maxTileWidth: count <= 1 ? LONE_TILE_MAX_WIDTH : TILE_MAX_WIDTH });
    const previous = this.layout;
    if (previous && previous.columns === layout.columns && previous.tileWidth === layout.tileWidth && previous.tileHeight === layout.tileHeight) return;
    this.layout = layout;
    const style = this.grid.style;
    style.setProperty("--tile-w", `${layout.tileWidth}px`);
    style.setProperty("--tile-h", `${layout.tileHeight}px`);
    // The grid is exactly as wide as its columns: tiles wrap into the chosen rows, the last row centred.
    style.width = `${layout.columns * layout.tileWidth + (layout.columns - 1) * gap}px`;
    this.grid.dataset.columns = String(layout.columns);
  }
}

function px(value: string): number {
  const n = parseFloat(value);
  return Number.isFinite(n) ? n : 0;
}
