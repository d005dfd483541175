//! The DOM operations the core emits, and the ids of the nodes they name.

/// A node created by an [`Op`]. Ids of removed nodes are reused; [`ROOT`] is the container.
pub type NodeId = u32;

/// The container element the app gave; never created or removed by an op.
pub const ROOT: NodeId = 0;

/// One DOM operation. Applying a sequence in order to an empty container builds the rendering;
/// [`crate::VDom`] does it natively, the browser layer with real nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Create a detached element (`document.createElement` + `setAttribute` per attribute).
    Element {
        /// The new node's id.
        id: NodeId,
        /// A standard HTML tag name, lowercase.
        tag: &'static str,
        /// Attribute names and values, in order; values are set as text, never parsed.
        attrs: Vec<(&'static str, String)>,
    },
    /// Create a detached text node (`document.createTextNode`).
    Text {
        /// The new node's id.
        id: NodeId,
        /// Its data.
        text: String,
    },
    /// Append `child` as the last child of `parent` ([`ROOT`] is the container).
    Append {
        /// An element or [`ROOT`].
        parent: NodeId,
        /// A node created earlier and not yet attached.
        child: NodeId,
    },
    /// Append to a text node's data (`Text.appendData`): the O(delta) path.
    AppendData {
        /// A text node.
        id: NodeId,
        /// What to append.
        text: String,
    },
    /// Remove a node and its subtree from the document; its id (and its descendants') may be
    /// reused afterwards.
    Remove {
        /// The root of the subtree.
        id: NodeId,
    },
    /// Put the new node where the old one is (`replaceWith`) and drop the old subtree. Only at
    /// finish, for a committed block whose reference links were defined later in the answer.
    Replace {
        /// The node in the document.
        old: NodeId,
        /// A detached node.
        new: NodeId,
    },
    /// Move the cursor to the end of `parent`'s children, or take it out of the document (`None`).
    Cursor {
        /// The innermost open block, or `None` when there is nothing to show it after.
        parent: Option<NodeId>,
    },
    /// The top-level node `id` is final: no later op names it or a node under it (except a
    /// [`Op::Replace`] at finish, see there). Appliers may ignore it.
    Commit {
        /// A child of [`ROOT`].
        id: NodeId,
    },
}
