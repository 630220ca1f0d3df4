//! Planning HTTP targets' transport (headers, TLS, rate limit, retries) and `kind = "json"`
//! targets.

use toml::Spanned;

use super::{Planner, TargetPlan, TransportPlan};
use crate::options::TargetOptions;

impl Planner<'_> {
    /// Samples per request and the per-request timeout of an HTTP target.
    pub(super) fn batch_and_timeout(
        &mut self,
        options: &TargetOptions,
        section: &str,
    ) -> (usize, u64) {
        let max_batch = match &options.max_batch {
            Some(n) if *n.get_ref() == 0 => {
                self.problem(
                    n.span(),
                    &format!("{section}.max_batch"),
                    "must be at least 1".into(),
                    None,
                );
                256
            }
            Some(n) => usize::try_from(*n.get_ref()).unwrap_or(256),
            None => 256,
        };
        let timeout_ms = match &options.timeout_ms {
            Some(t) if *t.get_ref() == 0 => {
                self.problem(
                    t.span(),
                    &format!("{section}.timeout_ms"),
                    "must be at least 1".into(),
                    None,
                );
                30_000
            }
            Some(t) => *t.get_ref(),
            None => 30_000,
        };
        (max_batch, timeout_ms)
    }

    pub(super) fn transport(&mut self, options: &TargetOptions, section: &str) -> TransportPlan {
        let mut plan = TransportPlan {
            retries: 2,
            retry_budget: 0.2,
            max_concurrency: 1,
            ..TransportPlan::default()
        };
        if let Some(n) = &options.max_concurrency {
            match usize::try_from(*n.get_ref()) {
                Ok(n) if (1..=256).contains(&n) => plan.max_concurrency = n,
                _ => self.problem(
                    n.span(),
                    &format!("{section}.max_concurrency"),
                    "must be between 1 and 256".into(),
                    None,
                ),
            }
        }
        if let Some(headers) = &options.headers {
            for (name, value) in headers.get_ref() {
                let valid_name = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
                if !valid_name || value.contains(['\r', '\n']) {
                    self.problem(
                        headers.span(),
                        &format!("{section}.headers.{name}"),
                        "not a valid HTTP header name and value".into(),
                        None,
                    );
                    continue;
                }
                let unclosed = value.matches("${").count() != value.matches('}').count();
                if unclosed {
                    self.problem(
                        headers.span(),
                        &format!("{section}.headers.{name}"),
                        "a `${` without its `}`".into(),
                        Some("write environment references as ${NAME}".into()),
                    );
                }
                plan.headers.push((name.clone(), value.clone()));
            }
        }
        if let Some(file) = &options.ca_file {
            plan.ca_file = Some(self.relative(file.get_ref()));
        }
        if let Some(rate) = &options.rate_limit {
            if rate.get_ref().is_finite() && *rate.get_ref() > 0.0 {
                plan.rate_limit = Some(*rate.get_ref());
            } else {
                self.problem(
                    rate.span(),
                    &format!("{section}.rate_limit"),
                    "must be a number of requests per second above 0".into(),
                    None,
                );
            }
        }
        if let Some(retries) = &options.retries {
            match u32::try_from(*retries.get_ref()) {
                Ok(n) if n <= 100 => plan.retries = n,
                _ => self.problem(
                    retries.span(),
                    &format!("{section}.retries"),
                    "must be between 0 and 100".into(),
                    None,
                ),
            }
        }
        if let Some(budget) = &options.retry_budget {
            if (0.0..=10.0).contains(budget.get_ref()) {
                plan.retry_budget = *budget.get_ref();
            } else {
                self.problem(
                    budget.span(),
                    &format!("{section}.retry_budget"),
                    "must be a share between 0 and 10".into(),
                    None,
                );
            }
        }
        plan
    }

    pub(super) fn json_target(
        &mut self,
        options: &TargetOptions,
        section: &str,
    ) -> Option<TargetPlan> {
        let need = |planner: &mut Self, key: &str, example: &str| {
            planner.problem(
                options.kind.span(),
                &format!("{section}.{key}"),
                format!("`kind = \"json\"` needs `{key}`"),
                Some(example.into()),
            );
        };
        let Some(url) = &options.url else {
            need(self, "url", "url = \"http://127.0.0.1:8080/predict\"");
            return None;
        };
        let text = url.get_ref().clone();
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            self.problem(
                url.span(),
                &format!("{section}.url"),
                format!("`{text}` is not an http(s) URL"),
                None,
            );
        }
        let Some(template) = &options.template else {
            need(self, "template", "template = { instances = \"{{inputs}}\" }");
            return None;
        };
        let template = match serde_json::to_value(template.get_ref()) {
            Ok(value) => value,
            Err(error) => {
                self.problem(
                    template.span(),
                    &format!("{section}.template"),
                    error.to_string(),
                    None,
                );
                return None;
            }
        };
        let text_template = template.to_string();
        if !text_template.contains("\"{{inputs}}\"") && !text_template.contains("\"{{input}}\"") {
            self.problem(
                options.template.as_ref().map_or(options.kind.span(), Spanned::span),
                &format!("{section}.template"),
                "the template has no \"{{inputs}}\" or \"{{input}}\" value".into(),
                Some(
                    "put \"{{inputs}}\" where the batch goes, e.g. instances = \"{{inputs}}\""
                        .into(),
                ),
            );
        }
        let response = match &options.response {
            Some(pointer) if pointer.get_ref().starts_with('/') || pointer.get_ref().is_empty() => {
                pointer.get_ref().clone()
            }
            Some(pointer) => {
                self.problem(
                    pointer.span(),
                    &format!("{section}.response"),
                    format!("`{}` is not a JSON pointer", pointer.get_ref()),
                    Some("e.g. response = \"/predictions\"".into()),
                );
                return None;
            }
            None => {
                need(self, "response", "response = \"/predictions\"");
                return None;
            }
        };
        let scores = match options.scores.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None => "logits".to_string(),
            Some((name @ ("logits" | "probabilities" | "labels"), _)) => name.to_string(),
            Some((other, span)) => {
                self.problem(
                    span,
                    &format!("{section}.scores"),
                    format!("unknown scores `{other}`"),
                    Some("logits, probabilities or labels".into()),
                );
                "logits".to_string()
            }
        };
        let Some(shape) = &options.input_shape else {
            need(self, "input_shape", "input_shape = [1, 28, 28]");
            return None;
        };
        if shape.get_ref().is_empty() || shape.get_ref().contains(&0) {
            self.problem(
                shape.span(),
                &format!("{section}.input_shape"),
                "must be a non-empty list of positive sizes".into(),
                None,
            );
        }
        let Some(classes) = &options.classes else {
            need(self, "classes", "classes = 10");
            return None;
        };
        if *classes.get_ref() < 2 {
            self.problem(
                classes.span(),
                &format!("{section}.classes"),
                "must be at least 2".into(),
                None,
            );
        }
        let (max_batch, timeout_ms) = self.batch_and_timeout(options, section);
        let name =
            options.model.as_ref().map_or_else(|| "json".to_string(), |m| m.get_ref().clone());
        Some(TargetPlan::Json {
            url: text,
            name,
            max_batch,
            timeout_ms,
            transport: self.transport(options, section),
            template,
            response,
            scores,
            input_shape: shape.get_ref().iter().map(|&d| d as usize).collect(),
            classes: *classes.get_ref() as usize,
        })
    }
}
