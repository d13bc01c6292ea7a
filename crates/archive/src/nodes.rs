//! The extractor's map of every entry it made, in walk order.
//!
//! Archives written by tarmac (and by `tar` over a sorted walk) list their
//! entries in the map's own order ([`crate::name::MapKey`]: depth first,
//! names sorted by bytes), so nearly every entry is a new largest key. A
//! `BTreeMap` alone still searched for each one twice (the duplicate check,
//! then the insert: about 2 × 17 key comparisons) and kept its nodes about
//! half full. Here an entry that comes in order is appended to a sorted
//! `Vec` after one comparison with the last key; only entries that come
//! out of order go to a `BTreeMap` beside it. Every key in that map is
//! smaller than the last key of the `Vec` (it was when it was inserted,
//! and the last key only grows), so a key larger than the last is in
//! neither. Lookups search both; iteration merges them.

use std::collections::BTreeMap;
use std::iter::Peekable;

#[derive(Debug)]
pub(crate) struct Nodes<K, V> {
    in_order: Vec<(K, V)>,
    out_of_order: BTreeMap<K, V>,
}

impl<K: Ord, V> Nodes<K, V> {
    pub fn new() -> Nodes<K, V> {
        Nodes {
            in_order: Vec::new(),
            out_of_order: BTreeMap::new(),
        }
    }

    /// True when `key` is larger than every key held (then it is absent).
    fn beyond_last(&self, key: &K) -> bool {
        self.in_order.last().is_none_or(|(last, _)| last < key)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        if self.beyond_last(key) {
            return None;
        }
        match self.in_order.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => Some(&self.in_order[i].1),
            Err(_) => self.out_of_order.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if self.beyond_last(key) {
            return None;
        }
        match self.in_order.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => Some(&mut self.in_order[i].1),
            Err(_) => self.out_of_order.get_mut(key),
        }
    }

    /// Inserts `key`, which must be absent (the caller has looked it up).
    pub fn insert_new(&mut self, key: K, value: V) {
        debug_assert!(self.get(&key).is_none(), "insert_new of a present key");
        if self.beyond_last(&key) {
            self.in_order.push((key, value));
        } else {
            self.out_of_order.insert(key, value);
        }
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        Merge {
            a: self.in_order.iter().map(|(k, v)| (k, v)).peekable(),
            b: self.out_of_order.iter().peekable(),
        }
    }
}

/// Two iterators sorted by key, merged (no key is in both).
struct Merge<A: Iterator, B: Iterator> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<'a, K: Ord + 'a, V: 'a, A, B> Iterator for Merge<A, B>
where
    A: Iterator<Item = (&'a K, &'a V)>,
    B: Iterator<Item = (&'a K, &'a V)>,
{
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.b.peek()) {
            (Some((x, _)), Some((y, _))) if y < x => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts `keys` in the order given into both maps, with the same
    /// duplicate rule as the extractor (look up, insert only if absent).
    fn both(keys: &[u32]) -> (Nodes<u32, u32>, BTreeMap<u32, u32>) {
        let mut nodes = Nodes::new();
        let mut plain = BTreeMap::new();
        for (i, &key) in keys.iter().enumerate() {
            let value = i as u32;
            match nodes.get_mut(&key) {
                Some(slot) => *slot += 1_000,
                None => nodes.insert_new(key, value),
            }
            plain
                .entry(key)
                .and_modify(|v| *v += 1_000)
                .or_insert(value);
        }
        (nodes, plain)
    }

    fn agree(keys: &[u32]) {
        let (nodes, plain) = both(keys);
        let merged: Vec<(u32, u32)> = nodes.iter().map(|(k, v)| (*k, *v)).collect();
        let expected: Vec<(u32, u32)> = plain.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(merged, expected, "keys {keys:?}");
        for probe in 0..=keys.iter().max().copied().unwrap_or(0) + 1 {
            assert_eq!(nodes.get(&probe), plain.get(&probe), "probe {probe}");
        }
    }

    #[test]
    fn agrees_with_a_btreemap_in_order_out_of_order_and_with_duplicates() {
        agree(&[]);
        agree(&[1, 2, 3, 10, 11]);
        agree(&[5, 4, 3, 2, 1]);
        agree(&[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]);
        // Mostly in order with a few stragglers, as from a hand-made tar.
        let mut keys: Vec<u32> = (0..500).map(|i| i * 2).collect();
        keys.insert(100, 51);
        keys.insert(300, 1);
        keys.insert(400, 999);
        keys.push(51);
        agree(&keys);
        // A fixed pseudo-random order.
        let mut x = 12345u32;
        let keys: Vec<u32> = (0..2000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) % 700
            })
            .collect();
        agree(&keys);
    }

    #[test]
    fn in_order_keys_never_reach_the_side_map() {
        let (nodes, _) = both(&[1, 2, 2, 3, 7, 7, 8]);
        assert_eq!(nodes.in_order.len(), 5);
        assert!(nodes.out_of_order.is_empty());
        let (nodes, _) = both(&[1, 5, 3]);
        assert_eq!(nodes.out_of_order.len(), 1);
    }
}
