// The evidence viewer: the redacted image with the defect regions drawn over it (boxes,
// each with its class and score, and a heat map) that can be switched off, zoomed
// (buttons, wheel, + and - keys) and panned (drag, arrow keys). Everything is drawn with
// SVG and a canvas on top of the image and moved with CSSOM transforms: no inline style
// or script, so the Content-Security-Policy stays strict.
//
// Region boxes are in full-frame pixels; the image shows only the inspected part of the
// frame (the node signs where: X-Evidence-Region "x,y,w,h"), so boxes are shifted by that
// offset and scaled to the image. The heat map is drawn from the regions' peak scores (a
// glow per region, stronger the further the score is above the threshold): the node does
// not send the model's pixel map, and the page says so.

import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_ZOOM = 1;
const MAX_ZOOM = 8;

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Where the image sits in the frame: {x, y, w, h} from the signed header, or the whole image. */
export function imageRegion(headers, img) {
  const value = headers?.get("X-Evidence-Region");
  if (value) {
    const [x, y, w, h] = value.split(",").map(Number);
    if ([x, y, w, h].every(Number.isFinite) && w > 0 && h > 0) return { x, y, w, h };
  }
  return { x: 0, y: 0, w: img.naturalWidth, h: img.naturalHeight };
}

/** Region boxes in image pixels (clipped to the image), with class and score. */
export function boxesInImage(regions, region, img) {
  const sx = img.naturalWidth / region.w;
  const sy = img.naturalHeight / region.h;
  return regions.map((r, index) => {
    const x = (r.bbox.x - region.x) * sx;
    const y = (r.bbox.y - region.y) * sy;
    return { index, x, y, w: r.bbox.width * sx, h: r.bbox.height * sy, defectClass: r.defect_class, score: r.score };
  });
}

function drawBoxes(layer, boxes) {
  for (const b of boxes) {
    const group = svg("g", { class: "region-box", "data-index": b.index });
    group.append(svg("rect", { x: b.x, y: b.y, width: b.w, height: b.h }));
    group.append(svg("text", { x: b.x, y: b.y }, `${b.index + 1} ${b.defectClass} ${b.score.toFixed(2)}`));
    layer.append(group);
  }
}

// Labels keep a readable size on screen whatever the image's size: 12 px of screen,
// converted to image pixels, above the box (or below it when the box touches the top).
function placeLabels(layer, boxes, imagePxPerScreenPx) {
  const size = 12 * imagePxPerScreenPx;
  layer.querySelectorAll(".region-box").forEach((group, i) => {
    const b = boxes[i];
    const text = group.querySelector("text");
    text.setAttribute("font-size", String(size));
    text.setAttribute("stroke-width", String(size / 4));
    text.setAttribute("y", String(b.y > size * 1.3 ? b.y - size * 0.3 : b.y + b.h + size));
  });
}

function drawHeat(canvas, boxes, threshold) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.globalCompositeOperation = "lighter";
  for (const b of boxes) {
    const strength = Math.min(1, Math.max(0.25, threshold > 0 ? (b.score / threshold - 1) * 2 + 0.35 : 0.6));
    const cx = b.x + b.w / 2;
    const cy = b.y + b.h / 2;
    const radius = Math.max(b.w, b.h) * 0.9 + 4;
    const glow = ctx.createRadialGradient(cx, cy, 0, cx, cy, radius);
    glow.addColorStop(0, `rgba(255, 40, 0, ${0.75 * strength})`);
    glow.addColorStop(0.5, `rgba(255, 170, 0, ${0.45 * strength})`);
    glow.addColorStop(1, "rgba(255, 220, 0, 0)");
    ctx.fillStyle = glow;
    ctx.fillRect(cx - radius, cy - radius, radius * 2, radius * 2);
  }
}

/**
 * Build the viewer for a loaded image. Returns {node, toolbar}: the toolbar has the
 * overlay switches and zoom buttons, the node the image with its layers.
 */
export function evidenceViewer(img, { regions, threshold, headers }) {
  const region = imageRegion(headers, img);
  const width = img.naturalWidth;
  const height = img.naturalHeight;
  const boxes = boxesInImage(regions, region, img);
  const layer = svg("svg", { class: "overlay boxes", viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true", preserveAspectRatio: "none" });
  drawBoxes(layer, boxes);
  const heat = el("canvas", { class: "overlay heat", width, height, "aria-hidden": "true" });
  drawHeat(heat, boxes, threshold);
  const stage = el("div", { class: "stage" }, img, heat, layer);
  const view = el("div", {
    class: "viewer",
    id: "evidence-viewer",
    tabindex: "0",
    role: "group",
    "aria-label": "Evidence image: + and - zoom, arrow keys pan, 0 resets",
    dataset: { zoom: "1", regions: String(boxes.length) },
  }, stage);

  let zoom = 1;
  let tx = 0;
  let ty = 0;
  function clamp() {
    const w = view.clientWidth;
    const h = stage.clientHeight;
    tx = Math.min(0, Math.max(w - w * zoom, tx));
    ty = Math.min(0, Math.max(h - h * zoom, ty));
  }
  function apply() {
    clamp();
    stage.style.transform = `translate(${tx}px, ${ty}px) scale(${zoom})`;
    view.dataset.zoom = zoom.toFixed(2);
    view.classList.toggle("zoomed", zoom > 1);
  }
  function zoomAt(factor, px = view.clientWidth / 2, py = view.clientHeight / 2) {
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom * factor));
    tx = px - ((px - tx) * next) / zoom;
    ty = py - ((py - ty) * next) / zoom;
    zoom = next;
    apply();
  }
  function reset() {
    zoom = 1;
    tx = 0;
    ty = 0;
    apply();
  }
  view.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = view.getBoundingClientRect();
    zoomAt(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  let drag = null;
  view.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX - tx, y: event.clientY - ty };
    view.setPointerCapture(event.pointerId);
  });
  view.addEventListener("pointermove", (event) => {
    if (!drag) return;
    tx = event.clientX - drag.x;
    ty = event.clientY - drag.y;
    apply();
  });
  view.addEventListener("pointerup", () => {
    drag = null;
  });
  view.addEventListener("keydown", (event) => {
    const step = 40;
    const keys = {
      "+": () => zoomAt(1.25), "=": () => zoomAt(1.25), "-": () => zoomAt(0.8), "0": reset,
      ArrowLeft: () => { tx += step; apply(); }, ArrowRight: () => { tx -= step; apply(); },
      ArrowUp: () => { ty += step; apply(); }, ArrowDown: () => { ty -= step; apply(); },
    };
    if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    }
  });

  const toggle = (id, label, target, checked) => {
    const input = el("input", { type: "checkbox", id, checked });
    // toggleAttribute: an <svg> has no `hidden` property, only the attribute.
    target.toggleAttribute("hidden", !checked);
    input.addEventListener("change", () => {
      target.toggleAttribute("hidden", !input.checked);
    });
    return el("label", { class: "check", for: id }, input, ` ${label}`);
  };
  const button = (label, name, action) => {
    const b = el("button", { type: "button", class: "secondary", "aria-label": name }, label);
    b.addEventListener("click", action);
    return b;
  };
  const toolbar = el(
    "div",
    { class: "viewer-tools", role: "toolbar", "aria-label": "Evidence view" },
    toggle("overlay-boxes", "Region boxes", layer, true),
    toggle("overlay-heat", "Heat map", heat, true),
    button("+", "Zoom in", () => zoomAt(1.5)),
    button("−", "Zoom out", () => zoomAt(1 / 1.5)),
    button("Reset", "Reset zoom", reset),
  );
  const note = el(
    "p",
    { class: "hint" },
    boxes.length
      ? `${boxes.length} region${boxes.length === 1 ? "" : "s"} drawn (numbered as in the table). The heat map is drawn from each region's peak score; the node does not send the model's pixel map.`
      : "No defect region on this frame: nothing to draw over the image.",
  );
  // Once on the page (and whenever its width changes), size the labels for the screen.
  new ResizeObserver(() => {
    if (view.clientWidth > 0) placeLabels(layer, boxes, width / view.clientWidth);
  }).observe(view);
  return { node: el("div", {}, toolbar, view, note), reset };
}
