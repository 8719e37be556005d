//! Source positions of a document's nodes, looked up by JSON pointer.
//!
//! Stored as a tree: each node keeps only its own path segment (a mapping
//! key or a sequence index), never its full pointer. A table keyed by full
//! pointers repeats every ancestor key in every descendant, so one long key
//! above many items cost key length × item count (a 90 KB file took ~1 GB);
//! here memory is linear in the input.

use std::collections::HashMap;

/// A node of the tree; the root (the pointer `""`) is `Positions::ROOT`.
pub type NodeId = u32;

/// `(line, column)`, both from 1.
pub type Position = (usize, usize);

#[derive(Debug, Clone, PartialEq)]
pub struct Positions {
    /// Where each node's value starts, by node id.
    values: Vec<Option<Position>>,
    /// Where the key that names each node was written, by node id.
    keys: Vec<Option<Position>>,
    /// A child by its parent and its unescaped segment.
    children: HashMap<(NodeId, Box<str>), NodeId>,
}

impl Default for Positions {
    fn default() -> Self {
        Positions {
            values: vec![None],
            keys: vec![None],
            children: HashMap::new(),
        }
    }
}

impl Positions {
    pub const ROOT: NodeId = 0;

    /// The child of `parent` named `segment` (unescaped), created if new.
    pub fn child(&mut self, parent: NodeId, segment: &str) -> NodeId {
        if let Some(&id) = self.children.get(&(parent, Box::from(segment))) {
            return id;
        }
        let id = self.values.len() as NodeId;
        self.values.push(None);
        self.keys.push(None);
        self.children.insert((parent, Box::from(segment)), id);
        id
    }

    /// Records where the node's value starts; the first record wins.
    pub fn set_value(&mut self, node: NodeId, at: Position) {
        if let Some(slot) = self.values.get_mut(node as usize) {
            slot.get_or_insert(at);
        }
    }

    /// Records where the key naming the node was written.
    pub fn set_key(&mut self, node: NodeId, at: Position) {
        if let Some(slot) = self.keys.get_mut(node as usize) {
            *slot = Some(at);
        }
    }

    pub fn key_of(&self, node: NodeId) -> Option<Position> {
        self.keys.get(node as usize).copied().flatten()
    }

    /// Where the value at `pointer` (RFC 6901, `""` for the root) starts.
    pub fn get(&self, pointer: &str) -> Option<&Position> {
        let node = self.find(pointer)?;
        self.values[node as usize].as_ref()
    }

    /// Where the key naming `pointer` was written.
    pub fn get_key(&self, pointer: &str) -> Option<&Position> {
        let node = self.find(pointer)?;
        self.keys[node as usize].as_ref()
    }

    pub fn contains_key(&self, pointer: &str) -> bool {
        self.get(pointer).is_some()
    }

    /// How many nodes have a value position.
    pub fn len(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of path segments held, for the bound that memory is linear in the input.
    pub fn stored_segment_bytes(&self) -> usize {
        self.children.keys().map(|(_, s)| s.len()).sum()
    }

    fn find(&self, pointer: &str) -> Option<NodeId> {
        if pointer.is_empty() {
            return Some(Self::ROOT);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut node = Self::ROOT;
        for raw in rest.split('/') {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            node = *self.children.get(&(node, segment.into_boxed_str()))?;
        }
        Some(node)
    }
}

impl std::ops::Index<&str> for Positions {
    type Output = Position;

    fn index(&self, pointer: &str) -> &Position {
        match self.get(pointer) {
            Some(at) => at,
            None => panic!("no position recorded for {pointer:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_escaped_pointers() {
        let mut p = Positions::default();
        p.set_value(Positions::ROOT, (1, 1));
        let spec = p.child(Positions::ROOT, "spec");
        let odd = p.child(spec, "a/b~c");
        p.set_value(odd, (2, 3));
        p.set_key(odd, (2, 1));
        assert_eq!(p.get(""), Some(&(1, 1)));
        assert_eq!(p["/spec/a~1b~0c"], (2, 3));
        assert_eq!(p.get_key("/spec/a~1b~0c"), Some(&(2, 1)));
        assert!(!p.contains_key("/spec"));
        assert!(!p.contains_key("/nope"));
        assert!(!p.contains_key("spec"));
        assert_eq!(p.len(), 2);
        assert_eq!(p.child(spec, "a/b~c"), odd);
    }
}
