// Synchronized before/after player; runs as the js_on_load of components/ui/comparison.py.
// gr.HTML calls this once with `element` (the component root), `props` (value and label) and
// `watch`. The template is static, so gradio never re-renders it: this code owns every dynamic
// bit, and a new value arrives through watch('value').
//
// One clock: the edit's currentTime (the master). The original (the follower) is steered to it:
// - while paused, exactly (a seek to the same instant);
// - while playing, by playbackRate nudges proportional to the drift, checked on every frame the
//   edit presents (requestVideoFrameCallback; requestAnimationFrame where that is missing);
// - by a seek past HARD_SEEK_S, aimed where the clock will be once the seek lands (seeks take
//   tens of ms, far more on a busy CPU; their measured latency is kept as state.seekLag);
// - play starts both in the same tick, once neither is seeking and both have data;
// - a loop wraps natively on both when their lengths match (drift is then taken modulo the loop),
//   else the follower holds its last frame and is seeked back when the clock wraps.
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

const state = { fps: { edit: 25, orig: 25 }, loop: false, wipe: 50, tick: 0, dragging: false,
                seekLag: 0.08, seekStarted: 0, starting: false, clock: null, shownTime: null };
const HARD_SEEK_S = 1.0; // beyond this a nudge would take too long: seek (costly on long GOPs)
const GAIN = 10; // per second: how fast a drift is steered away (1/GAIN s time constant)
const MIN_RATE = 0.1; // the follower's slowest: "hold" while the clock stalls
const MAX_RATE = 2.5; // and fastest
const MAX_CATCH_UP = 0.25; // a follower behind speeds up by at most this...
const MIN_CLOCK_RATE = 0.1; // ...and the clock slows down (no lower than this) for the rest
const DEADBAND_S = 0.003; // closer than this counts as in step
const END_GUARD = 0.01; // a time this close to the end still shows the last frame
const hasFrameCallback = "requestVideoFrameCallback" in HTMLVideoElement.prototype;

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const known = (x) => Number.isFinite(x) && x > 0;

// A root-relative URL ("/studio/files/...") needs the app's root under a mounted sub-path; an
// absolute one, or one relative to the page (a share page's "<token>/edited.mp4"), is used as it is.
function resolve(file) {
  if (!file) return "";
  const url = file.url || "";
  if (/^(https?:|blob:|data:)/.test(url) || !url.startsWith("/")) return url;
  const rootUrl = (window.gradio_config && window.gradio_config.root) || "";
  return rootUrl.replace(/\/$/, "") + url;
}

function origTarget(t) {
  return known(orig.duration) ? clamp(t, 0, orig.duration - END_GUARD) : t;
}

// The length both videos wrap at when looping together (same length within a frame), else 0.
function loopSpan() {
  if (!state.loop || !known(edit.duration) || !known(orig.duration)) return 0;
  return Math.abs(edit.duration - orig.duration) <= 1 / state.fps.edit ? edit.duration : 0;
}

// Original minus where it should be; across a shared loop wrap the shorter way round.
function driftOf(t) {
  let drift = orig.currentTime - origTarget(t);
  const span = loopSpan();
  if (span) drift = ((((drift + span / 2) % span) + span) % span) - span / 2;
  return drift;
}

function seekFollower(target) {
  state.seekStarted = performance.now();
  orig.currentTime = target;
}

function follow(exact) {
  if (orig.readyState < 1 || !orig.getAttribute("src")) return;
  const t = edit.currentTime;
  const pastEnd = !loopSpan() && known(orig.duration) && t >= orig.duration - END_GUARD;
  if (exact || edit.paused || pastEnd) {
    setRate(1);
    setClockRate(1);
    if (!orig.paused) orig.pause();
    if (Math.abs(orig.currentTime - origTarget(t)) > 0.001) orig.currentTime = origTarget(t);
    state.clock = null;
    return;
  }
  if (orig.seeking) return;
  if (orig.paused) {
    if (state.starting) return; // play() starts it in step
    // The clock runs and the follower does not (it held its last frame and the clock wrapped):
    // start it where the clock will be once the seek lands.
    seekFollower(origTarget(t + state.seekLag * edit.playbackRate));
    orig.play().catch(() => {});
    return;
  }
  const drift = driftOf(t);
  if (Math.abs(drift) > HARD_SEEK_S) {
    setRate(1);
    setClockRate(1);
    seekFollower(origTarget(t + state.seekLag * edit.playbackRate));
    return;
  }
  // The rate the clock actually ran at since the last look: 0 while it starts, wraps or waits for
  // data. The follower runs at that rate (so it holds while the clock holds), corrected by the drift.
  const now = performance.now();
  const last = state.clock;
  state.clock = { t, now };
  let clockRate = edit.playbackRate;
  if (last && now - last.now > 1) {
    let advanced = t - last.t;
    const span = loopSpan();
    if (span && advanced < -span / 2) advanced += span; // wrapped since the last look
    const rate = advanced / ((now - last.now) / 1000);
    clockRate = rate >= 0 && rate < 4 ? Math.min(rate, edit.playbackRate) : edit.playbackRate;
  }
  const correction = Math.abs(drift) > DEADBAND_S ? drift * GAIN : 0;
  if (correction >= 0) {
    // The follower is ahead (or in step): it slows down; the clock runs at its normal rate.
    setClockRate(1);
    setRate(clamp(clockRate - correction, MIN_RATE, MAX_RATE));
  } else {
    // The follower is behind, usually because a busy CPU starved its decoder. Running it faster
    // asks that decoder for even more frames, so it only speeds up a little and the clock slows
    // down by the rest: the pair stays in step at the cost of a moment of slow motion.
    // Its rate is not tied to the clock's observed one here: a slowed clock must not slow the
    // follower it waits for.
    const lag = -correction;
    const speedUp = Math.min(lag, MAX_CATCH_UP);
    setRate(1 + speedUp);
    setClockRate(clamp(1 - (lag - speedUp), MIN_CLOCK_RATE, 1));
  }
}

// playbackRate writes cost a message to the media pipeline: skip the ones that change nothing.
function setRate(rate) {
  if (Math.abs(orig.playbackRate - rate) > 0.01 || (rate === 1 && orig.playbackRate !== 1)) {
    orig.playbackRate = rate;
  }
}

function setClockRate(rate) {
  if (Math.abs(edit.playbackRate - rate) > 0.01 || (rate === 1 && edit.playbackRate !== 1)) {
    edit.playbackRate = rate;
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
  // While playing, the frame on screen (from the frame callback) rather than the clock's instant.
  const shown = !edit.paused && state.shownTime !== null ? state.shownTime : t;
  const frame = Math.min(Math.floor(shown * state.fps.edit + 1e-6), lastFrame);
  timeLabel.textContent = `${fmt(t)} / ${fmt(d)} · frame ${frame}`;
  const playing = !edit.paused && !edit.ended;
  playButton.textContent = playing ? "❚❚ Pause" : "▶ Play";
  playButton.setAttribute("aria-pressed", String(playing));
}

// The steering runs on every animation frame while the edit plays: unlike a frame callback it
// also runs while the edit presents nothing (starting, wrapping, starved of data), which is
// exactly when the follower must be held. requestVideoFrameCallback, where the browser has it,
// tells which frame of the edit is on screen for the frame counter.
function tick() {
  state.tick = 0;
  follow(false);
  render();
  schedule();
}

function schedule() {
  if (state.tick || edit.paused) return;
  state.tick = requestAnimationFrame(tick);
}

function onEditFrame(_now, metadata) {
  state.shownTime = metadata.mediaTime;
  if (!edit.paused) edit.requestVideoFrameCallback(onEditFrame);
}

function whenReady(video) {
  if (!video.getAttribute("src")) return Promise.resolve();
  if (!video.seeking && video.readyState >= 3) return Promise.resolve();
  return new Promise((done) => {
    const check = () => {
      if (!video.seeking && video.readyState >= 3) finish();
    };
    const finish = () => {
      clearTimeout(timer);
      ["seeked", "canplay", "canplaythrough", "loadeddata"].forEach((n) => video.removeEventListener(n, check));
      done();
    };
    const timer = setTimeout(finish, 2000); // a video that never gets data must not block play
    ["seeked", "canplay", "canplaythrough", "loadeddata"].forEach((n) => video.addEventListener(n, check));
  });
}

// Both start in the same tick from the same instant, once neither is mid-seek: starting the
// follower later (or seeking it as the clock starts) is where a seek-then-play used to lag.
async function play() {
  if (!edit.getAttribute("src") || state.starting) return;
  if (edit.ended || (known(edit.duration) && edit.currentTime >= edit.duration - END_GUARD)) {
    edit.currentTime = 0;
  }
  state.starting = true;
  try {
    follow(true);
    await Promise.all([whenReady(edit), whenReady(orig)]);
    const t = edit.currentTime;
    const followerToo = orig.getAttribute("src") && (loopSpan() || !known(orig.duration)
      || t < orig.duration - END_GUARD);
    // The follower starts nearly still and is let go once the clock is seen to move: whichever
    // of the two pipelines starts first, neither runs ahead of the other.
    orig.playbackRate = MIN_RATE;
    state.clock = { t, now: performance.now() };
    const started = followerToo ? [orig.play()] : [];
    started.push(edit.play());
    await Promise.allSettled(started);
  } catch (error) {
    render();
  } finally {
    state.starting = false;
  }
  schedule();
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

// A clip without a sound track gets a button that says so and does nothing, instead of
// "sound" over a silent clip.
function setMuted(side, muted) {
  const video = side === "edit" ? edit : orig;
  video.muted = muted;
  const button = root.querySelector(`.kcmp-mute[data-side="${side}"]`);
  const silent = button.dataset.silent === "1";
  button.disabled = silent;
  button.setAttribute("aria-pressed", String(muted || silent));
  button.textContent = `${button.dataset.name}: ${silent ? "no sound track" : muted ? "muted" : "sound"}`;
  button.title = silent ? `${button.dataset.name} has no sound track` : `Mute or unmute ${button.dataset.name}`;
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
  const ready = Boolean(value && value.edited && value.original);
  // The same pair again (the job's final update, which only adds the side-by-side download):
  // update the links and labels, and leave playback alone.
  const samePair = ready && edit.getAttribute("src") === resolve(value.edited)
    && orig.getAttribute("src") === resolve(value.original);
  if (!samePair) {
    edit.pause();
    orig.pause();
  }
  root.dataset.state = ready ? "ready" : "empty";
  $(".kcmp-error").hidden = true;
  const labels = (value && value.labels) || ["Original", "Edited"];
  $(".kcmp-label-orig").textContent = labels[0];
  $(".kcmp-label-edit").textContent = labels[1];
  const names = (value && value.names) || labels;
  const audio = (value && value.audio) || {};
  for (const [side, key, index] of [["orig", "original", 0], ["edit", "edited", 1]]) {
    const button = root.querySelector(`.kcmp-mute[data-side="${side}"]`);
    button.dataset.name = names[index];
    button.dataset.silent = ready && audio[key] === false ? "1" : "0";
  }
  setMuted("orig", orig.muted);
  setMuted("edit", edit.muted);
  const fps = (value && value.fps) || {};
  state.fps.edit = known(fps.edited) ? fps.edited : 25;
  state.fps.orig = known(fps.original) ? fps.original : state.fps.edit;
  seek.step = String(1 / state.fps.edit);
  setLink($(".kcmp-dl-edit"), ready ? value.edited : null, "edited.mp4");
  setLink($(".kcmp-dl-sbs"), ready ? value.side_by_side : null, "side_by_side.mp4");
  if (samePair) return render();
  setSource(edit, ready ? value.edited : null);
  setSource(orig, ready ? value.original : null);
  seek.max = "0";
  render();
}

// A browser may stop at the metadata of a paused video (preload is only a hint, and a busy one
// takes it as such): a seek to where it is makes it decode the first frame, so the player shows
// the edit as soon as it arrives instead of a black box until the first play.
function showFirstFrame(video) {
  if (video.readyState < 2 && !video.seeking) video.currentTime = video.currentTime || 0;
}

edit.addEventListener("loadedmetadata", () => {
  showFirstFrame(edit);
  seek.max = String(edit.duration);
  setLoop(state.loop);
  if (edit.videoWidth && edit.videoHeight) {
    root.style.setProperty("--kcmp-aspect", `${edit.videoWidth} / ${edit.videoHeight}`);
    root.style.setProperty("--kcmp-ratio", String(edit.videoWidth / edit.videoHeight));
  }
  render();
});
orig.addEventListener("loadedmetadata", () => {
  setLoop(state.loop); // whether both can wrap natively depends on the two lengths
  follow(true);
  showFirstFrame(orig);
});
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
  state.clock = { t: edit.currentTime, now: performance.now() };
  state.shownTime = null;
  if (hasFrameCallback) edit.requestVideoFrameCallback(onEditFrame);
  schedule();
  render();
});
// How long the follower's seeks take, so the next one can aim where the clock will be.
orig.addEventListener("seeked", () => {
  if (state.seekStarted) {
    const took = (performance.now() - state.seekStarted) / 1000;
    state.seekLag = clamp(0.6 * state.seekLag + 0.4 * took, 0.01, 0.5);
    state.seekStarted = 0;
  }
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
// While looping both wrap natively (no "ended"); this is the end of a play without loop.
edit.addEventListener("ended", () => {
  orig.pause();
  orig.playbackRate = 1;
  render();
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
function setLoop(on) {
  state.loop = on;
  edit.loop = on;
  orig.loop = Boolean(loopSpan()); // a follower of another length is steered back at the wrap
  $(".kcmp-loop").setAttribute("aria-pressed", String(on));
}
$(".kcmp-loop").addEventListener("click", () => setLoop(!state.loop));
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
