// names.mjs derives names.json, the person names clinicalgen puts into the
// clinical corpus. Run it from filters/ with the npm packages below installed
// (for example under /work/ext/npmnames/node_modules):
//
//	NODE_PATH=/path/to/node_modules node internal/clinicalgen/names.mjs
//
// It writes internal/clinicalgen/names.json, which is committed, so
// generating the corpus never needs node.
//
// Sources and licences:
//   - given names: human-names 1.0.13 (MIT, https://github.com/jesselpalmer/human-names),
//     data/{male,female}-human-names-{en,fr,de,es,it,nl}.json
//   - surnames: chance 1.1.13 (MIT, https://github.com/chancejs/chancejs),
//     the lastNames data behind chance.last({nationality}) for en, uk, fr,
//     de, es, it, nl
//   - chance's firstNames data (same package, MIT) for it, fr, nl and en, since
//     human-names' Italian list has only 100 names and all of them are in faker
//   - hand-written supplements below for German, Spanish and Italian given names,
//     Spanish surnames, and German surnames built from common surname
//     morphemes: human-names' de/es lists and chance's de/es surname lists are
//     short and almost entirely covered by faker
//   - names of other origins (Arabic, Turkish, Indian, West African, Chinese,
//     Vietnamese, in Latin script): written by hand below.
//
// The PII detector builds its name gazetteers from @faker-js/faker, so any
// name token that also occurs in faker's first or last name lists (for the
// locales listed in FAKER_LOCALES) is dropped here: the corpus measures the
// detector on names it has not memorised. If faker is not installed the
// script refuses to run rather than write an unfiltered list.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(process.env.NODE_PATH ? path.join(process.env.NODE_PATH, 'x.js') : import.meta.url);
const Chance = require('chance');
const faker = require('@faker-js/faker');

const LANGS = ['en', 'fr', 'de', 'es', 'it', 'nl'];
// The same six locales main_test.go checks against.
const FAKER_LOCALES = ['EN', 'FR', 'DE', 'ES', 'IT', 'NL'];

// Lower-case particles are not name tokens of their own for the faker check.
const PARTICLES = new Set(['van', 'der', 'den', 'de', 'del', 'della', 'di', 'da', 'dal', 'le', 'la', 'von', 'du', 'des',
  'ten', 'ter', "'t", 'y', 'los', 'las', 'zu', 'dos', 'do', 'al', 'el', 'bin', 'ibn', 'ben', 'het', 'op', 'in', 'vom', 'zum']);

export function tokens(name) {
  return name.split(/[\s,\-]+/).map(t => t.replace(/\.$/, '')).filter(t => t.length > 1 && !PARTICLES.has(t.toLowerCase()));
}

const fakerTokens = new Set();
for (const loc of FAKER_LOCALES) {
  const p = faker[`faker${loc}`]?.rawDefinitions?.person;
  if (!p) continue;
  for (const key of ['first_name', 'last_name', 'middle_name']) {
    for (const list of Object.values(p[key] ?? {})) for (const n of list) for (const t of tokens(n)) fakerTokens.add(t.toLowerCase());
  }
}
if (fakerTokens.size < 3000) throw new Error(`only ${fakerTokens.size} faker name tokens: is @faker-js/faker installed?`);

// chance's French list has a few doubled entries ("Le RouxRoux", "LaporteLaporte"): dropped.
const doubled = n => /(\p{Lu}\p{Ll}+)\1$/u.test(n);
const clean = n => !doubled(n) && /^\p{Lu}[\p{L}'’\- ]*$/u.test(n) && tokens(n).length > 0 && tokens(n).every(t => !fakerTokens.has(t.toLowerCase()));
const uniqSorted = xs => [...new Set(xs)].sort((a, b) => a.localeCompare(b, 'en'));
// every k-th name of the sorted list, so the choice is stable and spread over the alphabet
const spread = (xs, n) => xs.length <= n ? xs : Array.from({ length: n }, (_, i) => xs[Math.floor(i * xs.length / n)]);

const hn = lang => g => require(`human-names/data/${g}-human-names-${lang}.json`);
const chanceLast = new Chance().get('lastNames');
const chanceFirst = new Chance().get('firstNames');
const given = (lang, g) => hn(lang)(g).concat(chanceFirst[g]?.[lang] ?? [], SUPPLEMENT[lang]?.[g] ?? []);
const SUPPLEMENT = {
  de: {
    female: 'Gerlinde Wiltrud Hannelore Irmgard Roswitha Walburga Adelheid Hiltrud Waltraud Edeltraud Sieglinde Brunhilde Mechthild Gerhild Hildegund Almut Heiderose Ingeborg Marlies Uta Anke Dörte Frauke Kunigunde Walpurga Kreszenz Notburga Afra Hedwig Irmtraud Elfriede Erdmute Swantje Telse Gesche Hanne-Lore Rotraut Gertraud Reinhild Ortrud Wilhelmine'.split(' '),
    male: 'Gottfried Wolfram Hartmut Eckhard Lothar Siegfried Detlef Volkmar Ulrich Kunibert Wendelin Ottokar Friedhelm Wigbert Onno Jörn Arnd Gernot Winfried Ortwin Ruprecht Baldur Ingolf Ludger Gisbert Notker Dietmar Kuno Hinnerk Gerold Wilfried Reinhard Adalbert Hartwig Wolfhard Egbert Meinrad Sigmar Dankwart Hubertus'.split(' '),
  },
  es: {
    female: 'Itziar Ainhoa Amaia Arantxa Begoña Edurne Idoia Maite Montserrat Núria Laia Meritxell Uxía Iria Sabela Macarena Inmaculada Remedios Milagros Fuensanta Covadonga Almudena Encarnación Nekane Garazi Leire Olatz Rosalía Visitación Purificación'.split(' '),
    male: 'Iñaki Aitor Asier Unai Iker Xabier Gorka Koldo Oriol Xosé Brais Xoán Anxo Custodio Fulgencio Wenceslao Segismundo Ceferino Eneko Ander Josu Ibai Txema Quim Arnau Sisebuto Teodomiro Crisanto Evaristo'.split(' '),
  },
  it: {
    female: 'Rosaria Nunzia Crocifissa Ottavia Mariangela Santuzza Liboria Gerlanda Venera Calogera Ninfa Provvidenza Addolorata Incoronata Benvenuta Assuntina Cesira Ermelinda Filippa Gesualda Iolanda Lucrezia Marcellina Nives Onorina Pasqualina Rosalba Teodolinda Zaira Zelinda Argia Clelia Delfina Elvira Tarcisia Vincenza Agatina Carmelina'.split(' '),
    male: 'Pierpaolo Jacopo Niccolò Calogero Gerlando Liborio Carmelo Vito Nunzio Saverio Pierfrancesco Gianpiero Ottorino Fedele Libero Alfio Baldassarre Cirino Egidio Fortunato Gioacchino Ignazio Leopoldo Modesto Nicandro Orazio Pancrazio Rocco Sebastiano Tindaro Ulisse Vittorino Zaccaria Venanzio Ercole Rosolino Gaspare Melchiorre Biagio Cosimo'.split(' '),
  },
};
// German surnames: morpheme compounds of the kind found in any German phone book.
const deStems = 'Stein Linden Eich Kirch Brunn Mühl Rosen Wein Kalt Hoch Tann Wald Buch Birk Reh Fuchs Hasel Holz Erl Wies Grün Lau Kreuz Schnee Ried Moos Pfaff Rohr Schil Weid'.split(' ');
const deSuffixes = ['hofer', 'bauer', 'inger', 'ecker', 'hammer', 'meier', 'reiter', 'leitner', 'huber', 'brunner', 'wieser', 'gruber'];
const SURNAME_SUPPLEMENT = {
  de: deStems.flatMap(s => deSuffixes.map(x => s + x)),
  es: 'Etxeberria Goikoetxea Arrizabalaga Puigdemont Vilanova Castellví Feijóo Outeiriño Iturralde Zubizarreta Aguirrezabal Urdangarin Llorente Bonet Puig Roig Soler Casals Riera Oliveras Sarasola Larrañaga Olazábal Otxoa Irigoyen Garmendia Echániz Quiroga Seoane Piñeiro Lamas Rial Taboada Cifuentes Valcárcel Arrieta Ochandiano Maíllo Calatrava Torrijos Alcántara Escudero Segarra Esteve Colomer Pujol Vives Zamorano Cobos'.split(' '),
};
const out = { _comment: 'generated by names.mjs from human-names (MIT) and chance (MIT), with faker name tokens removed; do not edit by hand' };
for (const lang of LANGS) {
  const surnames = chanceLast[lang].concat(lang === 'en' ? chanceLast.uk : [], SURNAME_SUPPLEMENT[lang] ?? []);
  out[lang] = {
    female: spread(uniqSorted(given(lang, 'female').filter(clean)), 150),
    male: spread(uniqSorted(given(lang, 'male').filter(clean)), 150),
    surname: spread(uniqSorted(surnames.filter(clean)), 200),
  };
}

// Hand-written: names of other origins as they appear in European and US
// hospital records, in Latin script.
const other = {
  female: ['Aaliyah', 'Amira', 'Fatima', 'Khadija', 'Leila', 'Yasmin', 'Samira', 'Nour', 'Zeynep', 'Elif', 'Ayşe', 'Meryem', 'Emine', 'Büşra',
    'Priya', 'Ananya', 'Lakshmi', 'Deepika', 'Kavya', 'Sunita', 'Aishwarya', 'Adaeze', 'Chiamaka', 'Ngozi', 'Folake', 'Abena', 'Ama', 'Yetunde',
    'Aminata', 'Fatou', 'Mei', 'Xiaoling', 'Yan', 'Lihua', 'Jing', 'Huong', 'Thao', 'Linh', 'Ngoc', 'Phuong'],
  male: ['Youssef', 'Karim', 'Tariq', 'Hamza', 'Bilal', 'Mehdi', 'Rachid', 'Omar', 'Mustafa', 'Emre', 'Burak', 'Mehmet', 'Hakan', 'Serkan', 'Oğuz',
    'Arjun', 'Rohan', 'Vikram', 'Sanjay', 'Rajesh', 'Aditya', 'Chinedu', 'Emeka', 'Oluwaseun', 'Kwame', 'Kofi', 'Babatunde', 'Ousmane', 'Mamadou',
    'Wei', 'Jian', 'Zhiwei', 'Haoran', 'Minh', 'Quang', 'Tuan', 'Duc', 'Huy'],
  surname: ['Haddad', 'Benali', 'El Amrani', 'Bouzid', 'Mansour', 'Al-Farsi', 'Khoury', 'Yılmaz', 'Kaya', 'Demir', 'Çelik', 'Şahin', 'Öztürk', 'Aydın',
    'Sharma', 'Patel', 'Iyer', 'Reddy', 'Chatterjee', 'Nair', 'Gupta', 'Okafor', 'Adeyemi', 'Okonkwo', 'Mensah', 'Asante', 'Diallo', 'Ndiaye',
    'Traoré', 'Balogun', 'Wang', 'Zhang', 'Liu', 'Chen', 'Huang', 'Zhou', 'Nguyen', 'Tran', 'Pham', 'Hoang', 'Vu', 'Dang'],
};
const dropped = [];
out.other = Object.fromEntries(Object.entries(other).map(([k, v]) => [k, v.filter(n => clean(n) || (dropped.push(n), false))]));
if (dropped.length) console.error('dropped (faker tokens):', dropped.join(', '));

const here = path.dirname(fileURLToPath(import.meta.url));
writeFileSync(path.join(here, 'names.json'), JSON.stringify(out, null, 1) + '\n');
for (const [k, v] of Object.entries(out)) if (k !== '_comment') console.error(k, Object.entries(v).map(([g, l]) => `${g}:${l.length}`).join(' '));
