// Painting I420 pictures on a tile's canvas. WebGL converts the planes to RGB in a shader (the
// pictures arrive as I420: 1.5 bytes a pixel) and scales them to the canvas, which is always the
// size it is shown at (device pixels, the picture's aspect kept inside its box): the webview then
// copies it to the screen without scaling or filtering of its own, which is what a software-
// rendered webview is slow at. Where WebGL is not available (or its context is lost) a 2D canvas
// gets the same conversion done here, in JS, and the webview scales it. The colour maths (BT.601,
// limited range) is the same in both; `i420ToRgba` and `fitInBox` are tested in render.test.ts.
import type { DecodedFrame } from "./frames";

export interface TileRenderer {
  /** "webgl" or "2d": which path paints (shown in the health panel, read by the tests). */
  readonly kind: "webgl" | "2d";
  paint(frame: DecodedFrame): void;
  /** The box changed size: show the last picture again at the new size. */
  relayout(): void;
}

/** A renderer for `canvas`: WebGL if the webview has it (and `prefer` is not "2d"), else 2D. */
export function createRenderer(canvas: HTMLCanvasElement, prefer: "webgl" | "2d" = "webgl"): TileRenderer {
  return (prefer === "webgl" ? WebGlRenderer.create(canvas) : null) ?? new CanvasRenderer(canvas);
}

/** The largest `width × height` with the picture's aspect that fits a `boxWidth × boxHeight`
 *  box (device pixels); the picture's own size when the box is unknown (0). */
export function fitInBox(width: number, height: number, boxWidth: number, boxHeight: number): [number, number] {
  if (boxWidth < 2 || boxHeight < 2) return [width, height];
  const k = Math.min(boxWidth / width, boxHeight / height);
  return [Math.max(2, Math.round(width * k)), Math.max(2, Math.round(height * k))];
}

/** The size to show `frame` at on `canvas`: fitted in the canvas's parent box, in device pixels. */
function shownSize(canvas: HTMLCanvasElement, frame: DecodedFrame): [number, number] {
  const box = canvas.parentElement;
  const scale = window.devicePixelRatio || 1;
  const [bw, bh] = box ? [Math.floor(box.clientWidth * scale), Math.floor(box.clientHeight * scale)] : [0, 0];
  return fitInBox(frame.width, frame.height, bw, bh);
}

/** `canvas` holds `width × height` pixels and is shown at `shown` device pixels. */
function resize(canvas: HTMLCanvasElement, width: number, height: number, shown: [number, number]): void {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const scale = window.devicePixelRatio || 1;
  const [cssWidth, cssHeight] = [`${shown[0] / scale}px`, `${shown[1] / scale}px`];
  if (canvas.style.width !== cssWidth) canvas.style.width = cssWidth;
  if (canvas.style.height !== cssHeight) canvas.style.height = cssHeight;
}

const VERTEX_SHADER = `
attribute vec2 corner;
varying vec2 uv;
void main() {
  uv = vec2((corner.x + 1.0) * 0.5, (1.0 - corner.y) * 0.5);
  gl_Position = vec4(corner, 0.0, 1.0);
}`;

// BT.601 limited range, the inverse of what the encoders were fed (natter-media's camera
// conversions): R = 1.164(Y-16) + 1.596(V-128), G = 1.164(Y-16) - 0.392(U-128) - 0.813(V-128),
// B = 1.164(Y-16) + 2.017(U-128).
const FRAGMENT_SHADER = `
precision mediump float;
varying vec2 uv;
uniform sampler2D planeY;
uniform sampler2D planeU;
uniform sampler2D planeV;
void main() {
  float y = 1.164 * (texture2D(planeY, uv).r - 0.0625);
  float u = texture2D(planeU, uv).r - 0.5;
  float v = texture2D(planeV, uv).r - 0.5;
  gl_FragColor = vec4(y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u, 1.0);
}`;

class WebGlRenderer implements TileRenderer {
  private textures: WebGLTexture[] = [];
  /** The pictures' size the textures were made for. */
  private size: [number, number] = [0, 0];
  private lost = false;
  private fallback: CanvasRenderer | null = null;

  private constructor(
    private canvas: HTMLCanvasElement,
    private gl: WebGLRenderingContext,
  ) {}

  get kind(): "webgl" | "2d" {
    return this.fallback ? "2d" : "webgl";
  }

  static create(canvas: HTMLCanvasElement): WebGlRenderer | null {
    // preserveDrawingBuffer: the picture stays readable after it is shown (screenshots, tests).
    const options: WebGLContextAttributes = { alpha: false, antialias: false, depth: false, preserveDrawingBuffer: true };
    let gl: WebGLRenderingContext | null = null;
    try {
      gl = canvas.getContext("webgl", options);
    } catch {
      gl = null;
    }
    if (!gl) return null;
    const renderer = new WebGlRenderer(canvas, gl);
    return renderer.setUp() ? renderer : null;
  }

  private setUp(): boolean {
    const gl = this.gl;
    const program = gl.createProgram();
    const compile = (type: number, source: string) => {
      const shader = gl.createShader(type)!;
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      gl.attachShader(program, shader);
      return gl.getShaderParameter(shader, gl.COMPILE_STATUS) as boolean;
    };
    if (!program || !compile(gl.VERTEX_SHADER, VERTEX_SHADER) || !compile(gl.FRAGMENT_SHADER, FRAGMENT_SHADER)) return false;
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) return false;
    gl.useProgram(program);
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const corner = gl.getAttribLocation(program, "corner");
    gl.enableVertexAttribArray(corner);
    gl.vertexAttribPointer(corner, 2, gl.FLOAT, false, 0, 0);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    ["planeY", "planeU", "planeV"].forEach((name, unit) => {
      const texture = gl.createTexture()!;
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, texture);
      // Linear: the tile is usually drawn a little larger or smaller than the picture.
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.uniform1i(gl.getUniformLocation(program, name), unit);
      this.textures.push(texture);
    });
    this.canvas.addEventListener("webglcontextlost", (e) => {
      // The picture goes on through a 2D canvas that replaces this one (a canvas that had a
      // WebGL context cannot get a 2D one).
      e.preventDefault();
      this.lost = true;
    });
    return true;
  }

  private last: DecodedFrame | null = null;

  relayout(): void {
    if (this.last) this.paint(this.last);
  }

  paint(frame: DecodedFrame): void {
    this.last = frame;
    if (this.lost) {
      if (!this.fallback) {
        const replacement = document.createElement("canvas");
        this.canvas.replaceWith(replacement);
        this.canvas = replacement;
        this.fallback = new CanvasRenderer(replacement);
      }
      this.fallback.paint(frame);
      return;
    }
    const gl = this.gl;
    const { width, height } = frame;
    // The canvas is as large as it is shown: the shader scales the picture (linear filtering).
    const shown = shownSize(this.canvas, frame);
    if (this.canvas.width !== shown[0] || this.canvas.height !== shown[1]) {
      resize(this.canvas, shown[0], shown[1], shown);
      gl.viewport(0, 0, shown[0], shown[1]);
    }
    const resized = this.size[0] !== width || this.size[1] !== height;
    if (resized) this.size = [width, height];
    const planes: [Uint8Array, number, number][] = [
      [frame.y, width, height],
      [frame.u, width / 2, height / 2],
      [frame.v, width / 2, height / 2],
    ];
    planes.forEach(([data, w, h], unit) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, this.textures[unit]);
      if (resized) gl.texImage2D(gl.TEXTURE_2D, 0, gl.LUMINANCE, w, h, 0, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
      else gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, w, h, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
    });
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }
}

class CanvasRenderer implements TileRenderer {
  readonly kind = "2d";
  private ctx: CanvasRenderingContext2D | null;
  private image: ImageData | null = null;

  constructor(private canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext("2d");
  }

  private last: DecodedFrame | null = null;

  relayout(): void {
    if (this.last) resize(this.canvas, this.last.width, this.last.height, shownSize(this.canvas, this.last));
  }

  paint(frame: DecodedFrame): void {
    this.last = frame;
    if (!this.ctx) return;
    // The picture's own pixels; the webview scales them to the box.
    resize(this.canvas, frame.width, frame.height, shownSize(this.canvas, frame));
    if (!this.image || this.image.width !== frame.width || this.image.height !== frame.height) {
      this.image = new ImageData(frame.width, frame.height);
    }
    i420ToRgba(frame, this.image.data);
    this.ctx.putImageData(this.image, 0, 0);
  }
}

const clamp = (x: number) => (x < 0 ? 0 : x > 255 ? 255 : x);

/** `frame`'s pixels as RGBA into `out` (`width × height × 4` bytes), BT.601 limited range: the
 *  fixed-point form of the shader's maths. */
export function i420ToRgba(frame: Pick<DecodedFrame, "width" | "height" | "y" | "u" | "v">, out: Uint8ClampedArray): void {
  const { width, height, y, u, v } = frame;
  const half = width / 2;
  for (let row = 0; row < height; row++) {
    const chromaRow = (row >> 1) * half;
    let at = row * width * 4;
    for (let col = 0; col < width; col++) {
      const c = 298 * (y[row * width + col] - 16);
      const d = u[chromaRow + (col >> 1)] - 128;
      const e = v[chromaRow + (col >> 1)] - 128;
      out[at] = clamp((c + 409 * e + 128) >> 8);
      out[at + 1] = clamp((c - 100 * d - 208 * e + 128) >> 8);
      out[at + 2] = clamp((c + 516 * d + 128) >> 8);
      out[at + 3] = 255;
      at += 4;
    }
  }
}
