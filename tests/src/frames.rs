//! Main-thread time per animation frame, measured in the page (the UI benches'): `INSTALL`
//! starts the collectors, `summarize` reads a window of them.
//!
//! - `longtask` PerformanceObserver entries (tasks over 50 ms), buffered;
//! - `long-animation-frame` entries where supported (frames over 50 ms, with script time);
//! - a `requestAnimationFrame` loop (frame-to-frame intervals) and a `requestIdleCallback` loop:
//!   busy time of a frame = its interval minus the idle time Chromium handed out in it.

use serde_json::Value;

/// Installs the collectors in `window.__bench` (replacing earlier ones).
pub const INSTALL: &str = r#"
const b = window.__bench = { longtasks: [], loaf: [], frames: [], idle: [], stop: false,
                             loafSupported: false };
new PerformanceObserver(list => {
  for (const e of list.getEntries()) b.longtasks.push([e.startTime, e.duration]);
}).observe({ type: 'longtask', buffered: true });
try {
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      const script = (e.scripts || []).reduce((sum, s) => sum + s.duration, 0);
      b.loaf.push([e.startTime, e.duration, script]);
    }
  }).observe({ type: 'long-animation-frame', buffered: true });
  b.loafSupported = true;
} catch (_) {}
const frame = t => { b.frames.push(t); if (!b.stop) requestAnimationFrame(frame); };
requestAnimationFrame(frame);
const idle = d => { b.idle.push([performance.now(), d.timeRemaining()]); if (!b.stop) requestIdleCallback(idle); };
requestIdleCallback(idle);
return true;
"#;

#[derive(Debug, Default)]
pub struct Window {
    pub frames: usize,
    pub busy: Vec<f64>,
    pub intervals: Vec<f64>,
    pub longest_task: f64,
    pub loaf_script_max: f64,
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn summarize(data: &Value, from: f64, to: f64) -> Window {
    let nums = |v: &Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let pairs = |v: &Value| -> Vec<Vec<f64>> {
        v.as_array()
            .map(|a| a.iter().map(nums).collect())
            .unwrap_or_default()
    };
    let frames = nums(&data["frames"]);
    let idle = pairs(&data["idle"]);
    let mut window = Window::default();
    for pair in frames.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        if start < from || end > to {
            continue;
        }
        let interval = end - start;
        let idle_ms: f64 = idle
            .iter()
            .filter(|p| p.len() == 2 && p[0] >= start && p[0] < end)
            .map(|p| p[1].min(end - p[0]).max(0.0))
            .sum();
        window.frames += 1;
        window.intervals.push(interval);
        window
            .busy
            .push((interval - idle_ms.min(interval)).max(0.0));
    }
    for task in pairs(&data["longtasks"]) {
        if task.len() == 2 && task[0] >= from && task[0] < to {
            window.longest_task = window.longest_task.max(task[1]);
        }
    }
    for frame in pairs(&data["loaf"]) {
        if frame.len() == 3 && frame[0] >= from && frame[0] < to {
            window.loaf_script_max = window.loaf_script_max.max(frame[2]);
        }
    }
    window.busy.sort_by(f64::total_cmp);
    window.intervals.sort_by(f64::total_cmp);
    window
}
