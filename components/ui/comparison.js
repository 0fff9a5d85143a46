// Synchronized before/after player; runs as the js_on_load of components/ui/comparison.py.
// gr.HTML calls this once with `element` (the component root), `props` (value and label) and
// `watch`. The template is static, so gradio never re-renders it: this code owns every dynamic
// bit, and a new value arrives through watch('value').
//
// One clock: the edit's currentTime. The original follows it: exactly while paused, by a small
// playbackRate nudge while playing (hard seeks during playback stutter and then lag again), by a
// seek when it is far off, and it holds its last frame once the clock passes its end.

const root = element.querySelector(".kcmp");
const $ = (selector) => root.querySelector(selector);
const edit = $(".kcmp-v-edit");
const orig = $(".kcmp-v-orig");
const editPane = $(".kcmp-pane-edit");
const stage = $(".kcmp-stage");
const divider = $(".kcmp-divider");
const seek = $(".kcmp-seek");
const playButton = $(".kcmp-play");
const timeLabel = $(".kcmp-time");

const state = { fps: { edit: 25, orig: 25 }, loop: false, wipe: 50, raf: 0, dragging: false };
const HARD_SEEK_FRAMES = 6; // beyond this drift a nudge would take too long: seek instead
const END_GUARD = 0.01; // a time this close to the end still shows the last frame

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const known = (x) => Number.isFinite(x) && x > 0;

// Gradio hands file URLs as "/gradio_api/file=..."; under a mounted sub-path they need the app root.
function resolve(file) {
  if (!file) return "";
  const url = file.url || "";
  if (/^(https?:|blob:|data:)/.test(url)) return url;
  const rootUrl = (window.gradio_config && window.gradio_config.root) || "";
  return rootUrl.replace(/\/$/, "") + url;
}

function origTarget(t) {
  return known(orig.duration) ? clamp(t, 0, orig.duration - END_GUARD) : t;
}

function follow(exact) {
  if (orig.readyState < 1 || !orig.getAttribute("src")) return;
  const t = edit.currentTime;
  const target = origTarget(t);
  const drift = orig.currentTime - target;
  const frame = 1 / state.fps.orig;
  const pastEnd = known(orig.duration) && t >= orig.duration - END_GUARD;
  if (exact || edit.paused || pastEnd) {
    orig.playbackRate = 1;
    if (!orig.paused) orig.pause();
    if (Math.abs(drift) > 0.001 && !orig.seeking) orig.currentTime = target;
    return;
  }
  if (orig.seeking) return;
  if (orig.paused) {
    orig.currentTime = target;
    orig.play().catch(() => {});
  } else if (Math.abs(drift) > HARD_SEEK_FRAMES * frame) {
    orig.playbackRate = 1;
    orig.currentTime = target;
  } else if (Math.abs(drift) > frame / 2) {
    orig.playbackRate = clamp(1 - drift * 2, 0.8, 1.2);
  } else {
    orig.playbackRate = 1;
  }
}

function fmt(t) {
  if (!Number.isFinite(t)) t = 0;
  const m = Math.floor(t / 60);
  const s = (t - m * 60).toFixed(2).padStart(5, "0");
  return `${m}:${s}`;
}

function render() {
  const t = edit.currentTime;
  const d = known(edit.duration) ? edit.duration : 0;
  if (!state.dragging) seek.value = String(t);
  const lastFrame = Math.max(0, Math.ceil(d * state.fps.edit - 1e-6) - 1);
  const frame = Math.min(Math.floor(t * state.fps.edit + 1e-6), lastFrame);
  timeLabel.textContent = `${fmt(t)} / ${fmt(d)} · frame ${frame}`;
  const playing = !edit.paused && !edit.ended;
  playButton.textContent = playing ? "❚❚ Pause" : "▶ Play";
  playButton.setAttribute("aria-pressed", String(playing));
}

function tick() {
  follow(false);
  render();
  state.raf = edit.paused ? 0 : requestAnimationFrame(tick);
}

function play() {
  if (!edit.getAttribute("src")) return;
  if (edit.ended || (known(edit.duration) && edit.currentTime >= edit.duration - END_GUARD)) {
    edit.currentTime = 0;
  }
  edit.play().catch(() => render());
}

function pause() {
  edit.pause();
  follow(true);
  render();
}

function seekTo(t) {
  const d = known(edit.duration) ? edit.duration : 0;
  edit.currentTime = clamp(t, 0, d);
  follow(true);
  render();
}

// Lands inside frame n (n / fps is its first instant; the 1 ms keeps float rounding off frame n-1).
function step(direction) {
  pause();
  const fps = state.fps.edit;
  const last = known(edit.duration) ? Math.max(0, Math.ceil(edit.duration * fps - 1e-6) - 1) : 0;
  const n = clamp(Math.floor(edit.currentTime * fps + 1e-6) + direction, 0, last);
  seekTo(n / fps + 0.001);
}

function setWipe(percent) {
  state.wipe = clamp(percent, 0, 100);
  root.style.setProperty("--kcmp-wipe", `${state.wipe}%`);
  divider.setAttribute("aria-valuenow", String(Math.round(state.wipe)));
  editPane.style.clipPath = root.dataset.view === "wipe" ? `inset(0 0 0 ${state.wipe}%)` : "";
}

function setView(view) {
  root.dataset.view = view;
  root.querySelectorAll(".kcmp-view").forEach((b) => {
    b.setAttribute("aria-pressed", String(b.dataset.view === view));
  });
  setWipe(state.wipe);
}

function setMuted(side, muted) {
  const video = side === "edit" ? edit : orig;
  video.muted = muted;
  const button = root.querySelector(`.kcmp-mute[data-side="${side}"]`);
  button.setAttribute("aria-pressed", String(muted));
  button.textContent = `${button.dataset.name}: ${muted ? "muted" : "sound"}`;
}

function setLink(link, file, fallbackName) {
  link.hidden = !file;
  if (!file) return link.removeAttribute("href");
  link.href = resolve(file);
  link.setAttribute("download", file.orig_name || fallbackName);
}

function setSource(video, file) {
  const src = resolve(file);
  if (!src) {
    video.removeAttribute("src");
    video.load();
  } else if (video.getAttribute("src") !== src) {
    video.setAttribute("src", src);
  } else {
    video.currentTime = 0;
  }
}

function load(value) {
  edit.pause();
  orig.pause();
  const ready = Boolean(value && value.edited && value.original);
  root.dataset.state = ready ? "ready" : "empty";
  $(".kcmp-error").hidden = true;
  const labels = (value && value.labels) || ["Original", "Edited"];
  $(".kcmp-label-orig").textContent = labels[0];
  $(".kcmp-label-edit").textContent = labels[1];
  root.querySelector('.kcmp-mute[data-side="orig"]').dataset.name = labels[0];
  root.querySelector('.kcmp-mute[data-side="edit"]').dataset.name = labels[1];
  setMuted("orig", orig.muted);
  setMuted("edit", edit.muted);
  const fps = (value && value.fps) || {};
  state.fps.edit = known(fps.edited) ? fps.edited : 25;
  state.fps.orig = known(fps.original) ? fps.original : state.fps.edit;
  seek.step = String(1 / state.fps.edit);
  setSource(edit, ready ? value.edited : null);
  setSource(orig, ready ? value.original : null);
  setLink($(".kcmp-dl-edit"), ready ? value.edited : null, "edited.mp4");
  setLink($(".kcmp-dl-sbs"), ready ? value.side_by_side : null, "side_by_side.mp4");
  seek.max = "0";
  render();
}

edit.addEventListener("loadedmetadata", () => {
  seek.max = String(edit.duration);
  if (edit.videoWidth && edit.videoHeight) {
    root.style.setProperty("--kcmp-aspect", `${edit.videoWidth} / ${edit.videoHeight}`);
    root.style.setProperty("--kcmp-ratio", String(edit.videoWidth / edit.videoHeight));
  }
  render();
});
orig.addEventListener("loadedmetadata", () => follow(true));
// A clip the browser cannot decode gets a sentence instead of a silent black box.
for (const [video, index] of [[orig, 0], [edit, 1]]) {
  video.addEventListener("error", () => {
    if (!video.getAttribute("src")) return;
    const labels = (props.value && props.value.labels) || ["Original", "Edited"];
    const message = $(".kcmp-error");
    message.textContent = `This browser could not play the ${labels[index].toLowerCase()} clip `
      + `(${(video.error && video.error.message) || "unsupported format"}); use the download link.`;
    message.hidden = false;
  });
}
edit.addEventListener("play", () => {
  follow(false);
  if (!state.raf) state.raf = requestAnimationFrame(tick);
  render();
});
edit.addEventListener("pause", () => {
  follow(true);
  render();
});
// Covers every way the clock moves: the seek bar, frame steps, and scripts setting currentTime.
edit.addEventListener("seeking", () => {
  if (edit.paused) follow(true);
  render();
});
edit.addEventListener("seeked", () => {
  follow(edit.paused);
  render();
});
edit.addEventListener("timeupdate", render);
edit.addEventListener("ended", () => {
  if (state.loop) {
    edit.currentTime = 0;
    edit.play().catch(() => render());
  } else {
    orig.pause();
    render();
  }
});

playButton.addEventListener("click", () => (edit.paused ? play() : pause()));
$(".kcmp-back").addEventListener("click", () => step(-1));
$(".kcmp-forward").addEventListener("click", () => step(1));
seek.addEventListener("pointerdown", () => (state.dragging = true));
seek.addEventListener("pointerup", () => (state.dragging = false));
seek.addEventListener("input", () => seekTo(Number(seek.value)));
seek.addEventListener("change", () => {
  state.dragging = false;
  seekTo(Number(seek.value));
});
$(".kcmp-loop").addEventListener("click", (e) => {
  state.loop = !state.loop;
  e.currentTarget.setAttribute("aria-pressed", String(state.loop));
});
root.querySelectorAll(".kcmp-mute").forEach((b) => {
  b.addEventListener("click", () => {
    const video = b.dataset.side === "edit" ? edit : orig;
    setMuted(b.dataset.side, !video.muted);
  });
});
root.querySelectorAll(".kcmp-view").forEach((b) => {
  b.addEventListener("click", () => setView(b.dataset.view));
});

// Wipe: drag anywhere on the frame; the divider is also a keyboard slider.
function wipeFromPointer(event) {
  const box = stage.getBoundingClientRect();
  setWipe(((event.clientX - box.left) / box.width) * 100);
}
stage.addEventListener("pointerdown", (event) => {
  if (root.dataset.view !== "wipe") {
    if (event.target.tagName === "VIDEO") edit.paused ? play() : pause();
    return;
  }
  stage.setPointerCapture(event.pointerId);
  wipeFromPointer(event);
});
stage.addEventListener("pointermove", (event) => {
  if (root.dataset.view === "wipe" && stage.hasPointerCapture(event.pointerId)) wipeFromPointer(event);
});
divider.addEventListener("keydown", (event) => {
  const delta = { ArrowLeft: -2, ArrowRight: 2, Home: -100, End: 100 }[event.key];
  if (delta === undefined) return;
  event.preventDefault();
  event.stopPropagation();
  setWipe(state.wipe + delta);
});

root.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = { " ": () => (edit.paused ? play() : pause()), ",": () => step(-1), ".": () => step(1) };
  const action = actions[event.key];
  if (!action || root.dataset.state !== "ready") return;
  event.preventDefault();
  action();
});
// A focused button would otherwise also "click" on the space key's release.
root.addEventListener("keyup", (event) => {
  if (event.key === " ") event.preventDefault();
});

watch("value", () => load(props.value));
setView("side");
load(props.value);
