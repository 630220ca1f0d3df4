//! The page: one self-contained HTML file (its own CSS and script, nothing fetched but the
//! event stream). Served, it reads `/events`; saved, the events are embedded in it.

/// The page as served: its events element is empty, so it connects to `/events`.
pub(crate) const LIVE_PAGE: &str = include_str!("page.html");

/// The empty events element in [`LIVE_PAGE`].
const EVENTS_LIVE: &str =
    "<script type=\"application/x-ndjson\" id=\"stressor-events\" data-mode=\"live\"></script>";
/// The opening tag of the events element of a saved page.
pub(crate) const EVENTS_OFFLINE_OPEN: &str =
    "<script type=\"application/x-ndjson\" id=\"stressor-events\" data-mode=\"offline\">";
/// The end of the events element.
pub(crate) const EVENTS_CLOSE: &str = "</script>";

/// The page before and after its events element.
pub(crate) fn split_at_events() -> (&'static str, &'static str) {
    // The template holds the element (the test below checks it).
    LIVE_PAGE.split_once(EVENTS_LIVE).unwrap_or((LIVE_PAGE, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_one_events_element_and_fetches_nothing_else() {
        assert_eq!(LIVE_PAGE.matches(EVENTS_LIVE).count(), 1);
        // The SVG namespace is a name, not a fetch.
        let page = LIVE_PAGE.replace("\"http://www.w3.org/2000/svg\"", "");
        for external in ["http://", "https://", "src=", "@import", "url(", "//cdn"] {
            assert!(!page.contains(external), "the page must not load {external}");
        }
        assert!(!LIVE_PAGE.contains("innerHTML"), "text goes in as textContent");
    }
}
