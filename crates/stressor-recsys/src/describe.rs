//! The plan for people (`stressor check`).

use std::io::Write;

use crate::plan::RecsysPlan;
use crate::service::Policy;

/// Seconds as people read them: `90 s`, `5 min`, `1 h 30 min`.
pub fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{} ms", (s * 1000.0).round())
    } else if s < 120.0 {
        format!("{} s", (s * 100.0).round() / 100.0)
    } else if s < 7200.0 {
        format!("{} min", (s / 60.0 * 10.0).round() / 10.0)
    } else {
        format!("{} h", (s / 3600.0 * 10.0).round() / 10.0)
    }
}

pub(crate) fn describe(plan: &RecsysPlan, out: &mut dyn Write) -> std::io::Result<()> {
    let w = &plan.world;
    let u = &w.users_model;
    let s = &plan.sim;
    match &plan.world_log {
        Some(log) => writeln!(
            out,
            "world    from the log {}{} ({} latent dims fitted), {}",
            log.log.display(),
            log.catalogue
                .as_ref()
                .map_or(String::new(), |c| format!(" and the catalogue {}", c.display())),
            w.dims,
            if log.rate_from_log {
                "the log's sessions/s".to_string()
            } else {
                format!("{} sessions/s", w.sessions_per_second)
            }
        )?,
        None => writeln!(
            out,
            "world    {} users × {} items ({} latent dims, Zipf {} popularity), {} sessions/s",
            w.users, w.items, w.dims, w.popularity_exponent, w.sessions_per_second
        )?,
    }
    writeln!(
        out,
        "users    cascade attention {}, logit no-click mass {}, think time {}, up to {} pages",
        u.attention_prob,
        u.no_click_mass,
        seconds(u.think_s),
        u.max_pages
    )?;
    if let Some(t) = &plan.target {
        writeln!(
            out,
            "target   your recommender: {} {} (items at `{}`), k = {}, timeout {} ms, {} in flight \
             at most{}{}",
            t.method,
            t.endpoint.url,
            t.items,
            s.service.k,
            t.timeout_ms,
            t.concurrency,
            t.events.as_ref().map_or(String::new(), |(e, _)| format!("; events to {}", e.url)),
            t.store_proxy.as_ref().map_or(String::new(), |(api, name)| format!(
                "; store proxy `{name}` at {}",
                api.url
            ))
        )?;
        writeln!(
            out,
            "run      {} on the wall clock, twice (baseline, then faults), in buckets of {}",
            seconds(s.duration_s),
            seconds(s.bucket_s)
        )?;
        for f in &plan.schedule.faults {
            writeln!(
                out,
                "  fault {} ({}) {} – {}",
                f.name,
                f.kind,
                seconds(f.start),
                seconds(f.stop)
            )?;
        }
        writeln!(
            out,
            "references {} (simulated; baseline live)",
            crate::plan::REFERENCES.join(", ")
        )?;
        for gate in &plan.gates {
            writeln!(out, "  gate {}", gate.id)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "service  k = {}, {} workers, cache TTL {}, store {} ms, model {} ms, client timeout {} ms",
        s.service.k,
        s.workers,
        seconds(s.service.cache_ttl_s),
        s.service.store_ms,
        s.service.model_ms,
        s.client_timeout_ms
    )?;
    writeln!(
        out,
        "pipeline ingest lag {}, stream job every {}, window {} × {}",
        seconds(s.pipeline.ingest_lag_s),
        seconds(s.pipeline.tick_s),
        s.pipeline.panes,
        seconds(s.pipeline.pane_s)
    )?;
    writeln!(
        out,
        "ranker   BPR ({} factors, {} epochs) on {} of logged traffic; {} candidates",
        s.bpr.factors,
        s.bpr.epochs,
        seconds(s.warmup_s),
        s.ranker.candidates
    )?;
    writeln!(out, "run      {} in buckets of {}", seconds(s.duration_s), seconds(s.bucket_s))?;
    for f in &plan.schedule.faults {
        let when = if f.stop > f.start {
            format!("{} – {}", seconds(f.start), seconds(f.stop))
        } else {
            format!("at {}", seconds(f.start))
        };
        writeln!(out, "  fault {} ({}) {when}", f.name, f.kind)?;
    }
    let names: Vec<String> = plan
        .policies
        .iter()
        .map(|p| match p {
            Policy::CircuitBreaker(b) => format!(
                "circuit-breaker (timeout {} ms, opens at {} errors over {}, sleeps {})",
                b.timeout_ms,
                b.error_threshold,
                seconds(b.window_s),
                seconds(b.sleep_s)
            ),
            other => other.name().to_string(),
        })
        .collect();
    writeln!(out, "policies {}", names.join(", "))?;
    writeln!(out, "references {}", crate::plan::REFERENCES.join(", "))?;
    let mtd = plan
        .max_tolerable_downtime_s
        .map_or(String::new(), |m| format!("; max tolerable downtime {}", seconds(m)));
    writeln!(
        out,
        "recovery clicks/request within {} % of the baseline for {} bucket(s){mtd}",
        plan.tolerance.ctr_drop * 100.0,
        plan.tolerance.sustain
    )?;
    if let Some(r) = &plan.replay {
        writeln!(
            out,
            "replay   {} ({} log): the first {} % trains, the rest is replayed over the run \
             (replay_ctr, ips_ctr)",
            r.log.display(),
            r.format.name(),
            r.train_share * 100.0
        )?;
    }
    for gate in &plan.gates {
        writeln!(out, "  gate {}", gate.id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_well() {
        assert_eq!(seconds(0.05), "50 ms");
        assert_eq!(seconds(90.0), "90 s");
        assert_eq!(seconds(300.0), "5 min");
        assert_eq!(seconds(7200.0), "2 h");
    }
}
