/**
 * The elements a molecule graph may hold: symbol ⇄ atomic number for the organic subset and the common
 * heteroatoms of drug-like molecules. A symbol outside this table is outside every graph vocabulary.
 */
const ELEMENTS: ReadonlyArray<readonly [string, number]> = [
  ["H", 1], ["B", 5], ["C", 6], ["N", 7], ["O", 8], ["F", 9], ["Si", 14], ["P", 15], ["S", 16],
  ["Cl", 17], ["Se", 34], ["Br", 35], ["I", 53],
];

const BY_SYMBOL = new Map(ELEMENTS);
const BY_NUMBER = new Map(ELEMENTS.map(([s, z]) => [z, s] as const));

/** Atomic number of an element symbol (e.g. "Cl" → 17), or undefined when the symbol is not in the table. */
export function atomicNumber(symbol: string): number | undefined {
  return BY_SYMBOL.get(symbol);
}

/** Element symbol of an atomic number, or `#z` when it is not in the table. */
export function elementSymbol(z: number): string {
  return BY_NUMBER.get(z) ?? `#${z}`;
}
