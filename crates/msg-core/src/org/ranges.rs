//! The byte ranges of an entry: what the scanner finds in a heading and its section, and
//! what the reading and editing code slices. Below every other module of the engine.

use std::ops::Range;

/// A byte range in a document. `Copy`, unlike `Range<usize>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub(crate) fn range(self) -> Range<usize> {
        self.start..self.end
    }

    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }

    pub(crate) fn shift(&mut self, delta: isize) {
        self.start = self.start.wrapping_add_signed(delta);
        self.end = self.end.wrapping_add_signed(delta);
    }
}

/// One property line of a drawer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property {
    /// The whole line, line ending included.
    pub(crate) line: Span,
    /// The key, without its colons.
    pub(crate) key: Span,
    /// The value, without surrounding whitespace (empty for `:KEY:`).
    pub(crate) value: Span,
}

/// The planning line and the timestamps on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planning {
    /// The whole line, line ending included.
    pub(crate) line: Span,
    /// `CLOSED: [ts]`, from the word to the end of the timestamp.
    pub(crate) closed: Option<Span>,
    /// `SCHEDULED: <ts>`.
    pub(crate) scheduled: Option<Span>,
    /// `DEADLINE: <ts>`.
    pub(crate) deadline: Option<Span>,
}

/// A drawer: its opening line, contents and `:END:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Drawer {
    /// From the start of the opening line to the end of the `:END:` line (ending included).
    pub(crate) whole: Span,
    /// The opening line (`:PROPERTIES:` or `:LOGBOOK:`), line ending included.
    pub(crate) begin: Span,
    /// The `:END:` line, line ending included.
    pub(crate) end: Span,
}

impl Drawer {
    pub(crate) fn contents(&self) -> Span {
        Span::new(self.begin.end, self.end.start)
    }
}

/// One heading and its section (up to the next heading of any level), as byte ranges into the
/// [`Document`](super::Document) it came from. Read it through [`EntryRef`](super::EntryRef);
/// edit it through `Transaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub(crate) line: usize,
    pub(crate) level: usize,
    /// The section: heading line start up to the next heading (children excluded).
    pub(crate) section: Span,
    /// End of the subtree (children included).
    pub(crate) subtree_end: usize,
    /// The heading line without its line ending.
    pub(crate) heading: Span,
    pub(crate) stars: Span,
    pub(crate) keyword: Option<Span>,
    pub(crate) priority: Option<Span>,
    pub(crate) title: Span,
    pub(crate) tags: Option<Span>,
    /// Boxed: most entries have none, and the index should stay small.
    pub(crate) planning: Option<Box<Planning>>,
    pub(crate) drawer: Option<Drawer>,
    pub(crate) properties: Vec<Property>,
    pub(crate) logbook: Option<Box<Drawer>>,
    /// After the heading, planning line and property drawer, up to the section's end.
    pub(crate) body: Span,
    /// A `:PROPERTIES:` line where Emacs would expect the drawer, that does not form one.
    pub(crate) ignored_drawer: Option<IgnoredAt>,
}

/// Where an ignored property drawer begins, and the first line that keeps it from being
/// one (`None`: no `:END:` before the section ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IgnoredAt {
    pub(crate) begin: usize,
    pub(crate) culprit: Option<Span>,
}

impl Entry {
    /// An entry whose heading line is `heading` (line ending excluded) and nothing else yet.
    pub(crate) fn empty_at(heading: Span) -> Entry {
        Entry {
            line: 0,
            level: 0,
            section: heading,
            subtree_end: heading.end,
            heading,
            stars: Span::default(),
            keyword: None,
            priority: None,
            title: Span::default(),
            tags: None,
            planning: None,
            drawer: None,
            properties: Vec::new(),
            logbook: None,
            body: Span::new(heading.end, heading.end),
            ignored_drawer: None,
        }
    }

    /// The 1-based line number of the heading.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The number of stars.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The entry's own section: the heading line up to the next heading of any level.
    pub fn section_range(&self) -> Range<usize> {
        self.section.range()
    }

    /// The subtree: the section plus every deeper heading below it.
    pub fn subtree_range(&self) -> Range<usize> {
        self.section.start..self.subtree_end
    }

    /// The heading line, without its line ending.
    pub fn heading_range(&self) -> Range<usize> {
        self.heading.range()
    }

    /// The stars.
    pub fn stars_range(&self) -> Range<usize> {
        self.stars.range()
    }

    /// The TODO keyword, if the heading has one.
    pub fn keyword_range(&self) -> Option<Range<usize>> {
        self.keyword.map(Span::range)
    }

    /// The priority cookie `[#A]`, if any.
    pub fn priority_range(&self) -> Option<Range<usize>> {
        self.priority.map(Span::range)
    }

    /// The title (may be empty), without surrounding whitespace.
    pub fn title_range(&self) -> Range<usize> {
        self.title.range()
    }

    /// The tag group `:a:b:`, if any.
    pub fn tags_range(&self) -> Option<Range<usize>> {
        self.tags.map(Span::range)
    }

    /// The planning line (ending included), if any.
    pub fn planning_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref().map(|p| p.line.range())
    }

    /// `CLOSED: [ts]` on the planning line, if any.
    pub fn closed_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref()?.closed.map(Span::range)
    }

    /// `SCHEDULED: <ts>` on the planning line, if any.
    pub fn scheduled_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref()?.scheduled.map(Span::range)
    }

    /// `DEADLINE: <ts>` on the planning line, if any.
    pub fn deadline_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref()?.deadline.map(Span::range)
    }

    /// The property drawer from `:PROPERTIES:` to `:END:` (ending included), if valid.
    pub fn drawer_range(&self) -> Option<Range<usize>> {
        self.drawer.as_ref().map(|d| d.whole.range())
    }

    /// Each property's key range and value range, in file order.
    pub fn property_ranges(&self) -> impl Iterator<Item = (Range<usize>, Range<usize>)> + '_ {
        self.properties
            .iter()
            .map(|p| (p.key.range(), p.value.range()))
    }

    /// The LOGBOOK drawer from `:LOGBOOK:` to `:END:` (ending included), if any.
    pub fn logbook_range(&self) -> Option<Range<usize>> {
        self.logbook.as_ref().map(|d| d.whole.range())
    }

    /// Everything after the meta data (heading, planning, properties) up to the next heading,
    /// LOGBOOK and other drawers included.
    pub fn body_range(&self) -> Range<usize> {
        self.body.range()
    }

    pub(crate) fn shift(&mut self, delta: isize) {
        for span in [
            &mut self.section,
            &mut self.heading,
            &mut self.stars,
            &mut self.title,
            &mut self.body,
        ] {
            span.shift(delta);
        }
        self.subtree_end = self.subtree_end.wrapping_add_signed(delta);
        for span in [&mut self.keyword, &mut self.priority, &mut self.tags]
            .into_iter()
            .flatten()
        {
            span.shift(delta);
        }
        if let Some(p) = &mut self.planning {
            p.line.shift(delta);
            for span in [&mut p.closed, &mut p.scheduled, &mut p.deadline]
                .into_iter()
                .flatten()
            {
                span.shift(delta);
            }
        }
        for d in [self.drawer.as_mut(), self.logbook.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            d.whole.shift(delta);
            d.begin.shift(delta);
            d.end.shift(delta);
        }
        for p in &mut self.properties {
            p.line.shift(delta);
            p.key.shift(delta);
            p.value.shift(delta);
        }
        if let Some(at) = &mut self.ignored_drawer {
            at.begin = at.begin.wrapping_add_signed(delta);
            if let Some(culprit) = &mut at.culprit {
                culprit.shift(delta);
            }
        }
    }
}
