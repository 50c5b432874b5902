// An immutable set of strings whose `add` returns a new set sharing all but a few nodes with the old
// one (a hash trie of 16 ways a level), so adding to a set of n costs O(log n), not a copy of n.
// The allocation queue keeps every order that ever left in one: folding an event, or deciding on a
// state, must cost the same after a hundred orders as after a million.

const BITS = 4;
const MASK = (1 << BITS) - 1;
/** The last shift a branch indexes by: 8 levels use all 32 bits of the hash; below, leaves just grow. */
const MAX_SHIFT = 32 - BITS;
/** Keys a leaf holds before it becomes a branch. */
const LEAF_SIZE = 8;

type Leaf = readonly string[];
interface Branch {
  readonly children: readonly (TrieNode | undefined)[];
}
type TrieNode = Leaf | Branch;

function isLeaf(node: TrieNode): node is Leaf {
  return Array.isArray(node);
}

/** FNV-1a over the UTF-16 code units: 32 bits, spread well enough for ids. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function contains(node: TrieNode | undefined, key: string, h: number, shift: number): boolean {
  for (;;) {
    if (node === undefined) return false;
    if (isLeaf(node)) return node.includes(key);
    node = node.children[(h >>> shift) & MASK];
    shift += BITS;
  }
}

/** `node` with `key` added; the same node when it holds the key already. */
function insert(node: TrieNode | undefined, key: string, h: number, shift: number): TrieNode {
  if (node === undefined) return [key];
  if (isLeaf(node)) {
    if (node.includes(key)) return node;
    if (node.length < LEAF_SIZE || shift > MAX_SHIFT) return [...node, key];
    let branch: TrieNode = { children: [] };
    for (const existing of node) branch = insert(branch, existing, hash(existing), shift);
    return insert(branch, key, h, shift);
  }
  const index = (h >>> shift) & MASK;
  const child = node.children[index];
  const added = insert(child, key, h, shift + BITS);
  if (added === child) return node;
  const children = [...node.children];
  children[index] = added;
  return { children };
}

function* keysOf(node: TrieNode | undefined): Generator<string> {
  if (node === undefined) return;
  if (isLeaf(node)) {
    yield* node;
    return;
  }
  for (const child of node.children) yield* keysOf(child);
}

export class PersistentSet implements Iterable<string> {
  static readonly empty = new PersistentSet(undefined, 0);

  static of(keys: Iterable<string>): PersistentSet {
    let set = PersistentSet.empty;
    for (const key of keys) set = set.add(key);
    return set;
  }

  private constructor(
    private readonly root: TrieNode | undefined,
    readonly size: number,
  ) {}

  has(key: string): boolean {
    return contains(this.root, key, hash(key), 0);
  }

  /** This set with `key`; this same set when it holds it already. */
  add(key: string): PersistentSet {
    const root = insert(this.root, key, hash(key), 0);
    return root === this.root ? this : new PersistentSet(root, this.size + 1);
  }

  [Symbol.iterator](): Iterator<string> {
    return keysOf(this.root);
  }
}
