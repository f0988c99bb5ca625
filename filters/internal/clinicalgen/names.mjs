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
//     human-names' Italian list has only 100 names
//   - hand-written supplements below for German, Spanish and Italian given names,
//     Spanish surnames, and German surnames built from common surname
//     morphemes: human-names' de/es lists and chance's de/es surname lists are
//     short
//   - names of other origins (Arabic, Turkish, Indian, West African, Chinese,
//     Vietnamese, in Latin script): written by hand below.
//
// The PII detector builds its name gazetteers from @faker-js/faker; these
// lists come from other packages, so the corpus measures the detector on
// names as an independent source gives them — common names that any list
// has, and rarer ones that faker's lists lack.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(process.env.NODE_PATH ? path.join(process.env.NODE_PATH, 'x.js') : import.meta.url);
const Chance = require('chance');

const LANGS = ['en', 'fr', 'de', 'es', 'it', 'nl'];
// Lower-case particles are not name tokens of their own.
const PARTICLES = new Set(['van', 'der', 'den', 'de', 'del', 'della', 'di', 'da', 'dal', 'le', 'la', 'von', 'du', 'des',
  'ten', 'ter', "'t", 'y', 'los', 'las', 'zu', 'dos', 'do', 'al', 'el', 'bin', 'ibn', 'ben', 'het', 'op', 'in', 'vom', 'zum']);

export function tokens(name) {
  return name.split(/[\s,\-]+/).map(t => t.replace(/\.$/, '')).filter(t => t.length > 1 && !PARTICLES.has(t.toLowerCase()));
}

// chance's French list has a few doubled entries ("Le RouxRoux", "LaporteLaporte"): dropped.
const doubled = n => /(\p{Lu}\p{Ll}+)\1$/u.test(n);
const clean = n => !doubled(n) && /^\p{Lu}[\p{L}'’\- ]*$/u.test(n) && tokens(n).length > 0;
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
const out = { _comment: 'generated by names.mjs from human-names (MIT) and chance (MIT); do not edit by hand' };
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
if (dropped.length) console.error('dropped:', dropped.join(', '));

const here = path.dirname(fileURLToPath(import.meta.url));
writeFileSync(path.join(here, 'names.json'), JSON.stringify(out, null, 1) + '\n');
for (const [k, v] of Object.entries(out)) if (k !== '_comment') console.error(k, Object.entries(v).map(([g, l]) => `${g}:${l.length}`).join(' '));
