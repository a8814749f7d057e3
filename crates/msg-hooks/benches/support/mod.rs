//! What the msg-hooks benchmarks print alike: a summary of timings, and how busy the
//! machine was.

use std::time::Duration;

/// The median of `times`, then the minimum and maximum, in milliseconds.
pub(crate) fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "{:.2} ms ({:.2}–{:.2})",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    )
}

/// The 1-minute load average (`/proc/loadavg`): the machine is shared, so every run says
/// how busy it was.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
