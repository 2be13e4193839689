import fc, { type Arbitrary } from 'fast-check';
import type { RouteSpec, ValueKind } from './routes.js';
import type {
  AuthorizationPlan,
  BodyPlan,
  Chunk,
  IdRef,
  ListName,
  MultipartPart,
  ObjectRef,
  PathMutation,
  QueryPair,
  RequestPlan,
  TagRef,
  UserName,
  UserRef,
  ValueRef,
  WireTweak,
} from './plan.js';

/** What the generators may name: the fixture's usernames and its password. */
export interface Knowledge {
  usernames: string[];
  password: string;
}

/** A value as a JSON body writes it and as a form or multipart body writes it. */
interface Value {
  json: Chunk[];
  text: Chunk[];
}

const text = (value: string): Value => ({ json: [JSON.stringify(value)], text: [value] });
const literal = (json: string, form = json): Value => ({ json: [json], text: [form] });
const repeated = (unit: string, times: number, quoted: boolean): Value => ({
  json: quoted ? ['"', { repeat: unit, times }, '"'] : [{ repeat: unit, times }],
  text: [{ repeat: unit, times }],
});

const sizes = fc.constantFrom(100, 1_000, 10_000, 100_000, 1_100_000);

/** Values that are wrong for any field: other types, edges of numbers, NUL, lone surrogates, depth. */
const anyHostileValue: Arbitrary<Value> = fc.oneof(
  fc.constantFrom(
    literal('null', ''),
    literal('true'),
    literal('false'),
    literal('0'),
    literal('-1'),
    literal('1.0'),
    literal('-0'),
    literal('1e308'),
    literal('1e999'),
    literal('-1e999'),
    literal('5e-324'),
    literal('123456789012345678901234567890'),
    literal('9007199254740993'),
    literal('[]'),
    literal('{}'),
    literal('[1,"a",null]'),
    literal('{"a":{"b":[1]}}'),
    literal('"\\u0000"', '\u0000'),
    literal('"a\\u0000b"', 'a\u0000b'),
    literal('"\\ud800"', '\ud800'),
    literal('"\\udfff\\ud800"', '\udfff\ud800'),
    literal('"\\u202e\\ufeff\\u200b"', '\u202e\ufeff\u200b'),
    text(''),
    text('   '),
    text('\t\n\r'),
    text('🚀'),
    text('İstanbul'),
    text("'; drop table tasks; --"),
    text('%00%zz'),
    text('<script>alert(1)</script>'),
    { json: ['"', { bytes: [0xff, 0xfe, 0xc0, 0x80] }, '"'], text: [{ bytes: [0xff, 0xfe, 0xc0, 0x80] }] },
    { json: ['"', { bytes: [0xed, 0xa0, 0x80] }, '"'], text: [{ bytes: [0xed, 0xa0, 0x80] }] },
  ),
  fc.integer().map((n) => literal(String(n))),
  fc.double().filter(Number.isFinite).map((n) => literal(JSON.stringify(n))),
  fc.string({ unit: 'binary', maxLength: 20 }).map(text),
  sizes.map((n) => repeated('9', n, false)),
  sizes.map((n) => repeated('x', n, true)),
  fc.constantFrom(10, 1_000, 100_000).map((n) => ({
    json: [{ repeat: '[', times: n }, { repeat: ']', times: n }],
    text: [{ repeat: '[', times: n }],
  })),
  fc.constantFrom(10, 1_000, 50_000).map((n) => ({
    json: [{ repeat: '{"a":', times: n }, '1', { repeat: '}', times: n }],
    text: [{ repeat: '{', times: n }],
  })),
);

/** Letters, digits and the punctuation usernames allow (fast-check's stringMatching is slow here). */
const usernameText = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789@.+_-'), minLength: 1, maxLength });

/** One of a user's objects: mostly Alice's (the caller most plans name), mostly one they see. */
const ownedRef: Arbitrary<ObjectRef> = fc.record({
  of: fc.constantFrom<('alice' | 'bob' | 'inactive')[]>('alice', 'alice', 'alice', 'bob', 'bob', 'inactive'),
  which: fc.constantFrom<('live' | 'deleted')[]>('live', 'live', 'live', 'deleted'),
  nth: fc.nat({ max: 31 }),
});
/** One of the shared lists, or one of its tasks: with each caller, a role (or none) there. */
const placedRef: Arbitrary<ObjectRef> = fc.record({ in: fc.constantFrom<ListName[]>('alices', 'bobs', 'team'), nth: fc.nat({ max: 31 }) });
const objectRef: Arbitrary<ObjectRef> = fc.oneof(ownedRef, placedRef);
const userName = fc.constantFrom<UserName[]>('alice', 'bob', 'inactive', 'gone');
const listReference: Arbitrary<ValueRef> = objectRef.map((list) => ({ list }));
const userReference: Arbitrary<ValueRef> = userName.map((user) => ({ user }));

/** A reference as a body or query writes it: a JSON number or a string, plain text in a form. */
function referenceValue(ref: ValueRef): Arbitrary<Value> {
  return fc.constantFrom<Value[]>({ json: [{ ref }], text: [{ ref }] }, { json: ['"', { ref }, '"'], text: [{ ref }] });
}

function strings(...values: string[]): Arbitrary<Value> {
  return fc.constantFrom(...values.map(text));
}

function kindValue(kind: ValueKind, knowledge: Knowledge): Arbitrary<Value> {
  const { usernames, password } = knowledge;
  switch (kind) {
    case 'username':
      return fc.oneof(
        { arbitrary: fc.constantFrom(...usernames.flatMap((name) => [name, name.toUpperCase(), ` ${name} `])).map(text), weight: 2 },
        { arbitrary: usernameText(20).map((name) => text(`fz_${name}`)), weight: 2 },
        // Valid names whose case-folded form is longer than the name, and the edges of the length.
        { arbitrary: strings('ﬀ'.repeat(76), 'ß'.repeat(100), 'ŉ'.repeat(80), 'a'.repeat(150), 'a'.repeat(151), 'ǅ', 'İ', 'user name', 'user/x', '١٢٣', ''), weight: 3 },
        { arbitrary: fc.constantFrom(1_000, 1_000_000).map((n) => repeated('7', n, false)), weight: 1 },
      );
    case 'password':
      return fc.oneof(
        { arbitrary: fc.constant(text(password)), weight: 3 },
        strings(`${password} `, 'x', '12345678', 'password', '', ' ', 'another horse battery staple', 'p'.repeat(4097), 'пароль-пароль-пароль'),
      );
    case 'email':
      return strings('', 'a@example.com', 'not-an-email', `${'a'.repeat(245)}@example.com`, 'a@b', 'ü@exämple.com', 'a@example.com\u0000', '"a b"@example.com', '@', 'a@-example.com');
    case 'title':
      return fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 30 }).map(text),
        strings('a'.repeat(200), 'a'.repeat(201), '🚀'.repeat(200), '🚀'.repeat(201), '  padded  ', ' '),
      );
    case 'description':
      return fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 50 }).map(text),
        fc.constantFrom(10_000, 100_000, 1_000_000).map((n) => repeated('d', n, true)),
      );
    case 'date':
      return strings('2025-03-30', '', '2025-02-30', '0000-12-31', '0001-01-01', '9999-12-31', '10000-01-01', '2025-1-1', '2025-03-30T00:00:00Z', '+002025-03-30', '-0001-01-01', '२०२५-०३-३०');
    case 'boolean':
      return strings('true', 'false', 'yes', 'No', 'ON', 't', 'Y', '1', '0', 'maybe', '2', 'tRuE');
    case 'timestamp':
      return strings(
        '2026-11-01T00:00:00Z',
        '2026-11-01T00:00:00.123456Z',
        '2026-11-01T00:00:00+05:30',
        '2026-11-01',
        '0001-01-01T00:00:00+01:00',
        '0001-01-01T00:00:00Z',
        '9999-12-31T23:59:59-01:00',
        '9999-12-31T23:59:59.999999Z',
        '+275760-09-13T00:00:00Z',
        '-000001-01-01T00:00:00Z',
        '2026-13-45T25:61:61Z',
        '2026-11-01T00:00:00.1234567891234Z',
        '1e10',
        'now',
        '',
      );
    case 'integer':
      return strings('1', '2', '0', '-1', '50', '1000', '1001', '999999999999999', '9999999999999999', '99999999999999999999999', '1.5', '1e3', ' 1 ', '0x10', '+1', '٣', '');
    case 'ordering':
      return fc.oneof(
        fc
          .array(fc.constantFrom('id', '-id', 'title', '-title', 'due_date', '-due_date', 'completed', '-completed', 'created_at', '-created_at', 'updated_at', '-updated_at', 'owner', 'password', '', '--id', 'id desc', '?'), { maxLength: 5 })
          .map((keys) => text(keys.join(','))),
        fc.constantFrom(1_000, 100_000).map((n) => repeated('id,', n, true)),
      );
    case 'search':
      return fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 20 }).map(text),
        strings('%', '_', '\\', "'", '"', 'istanbul', 'ǅ', 'a\u0000b', '%%%%', '*', '(', '[a-z]'),
        fc.constantFrom(1_000, 10_000).map((n) => repeated('s', n, true)),
      );
    case 'cursor':
      return fc.oneof(
        strings('', 'x', '====', 'e30', '%%%', 'bnVsbA'),
        fc
          .record({
            o: fc.constantFrom('id', '-id', 'title', 'due_date,-created_at', 'completed', 'updated_at', 'nope'),
            v: fc.array(fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom(1e308, -1, 0, 2 ** 63, '0001-01-01T00:00:00.000000Z', '9999-12-31', '2026-11-01T00:00:00.000000Z', 'a\u0000')), { maxLength: 3 }),
            b: fc.constantFrom(0, 1, 2, true as unknown as number),
            i: fc.constantFrom(0, 1, -1),
          })
          .map((payload) => text(Buffer.from(JSON.stringify(payload)).toString('base64url'))),
      );
    case 'syncToken':
      // Tokens as the server writes them (`s1.<user>.<from>[.<watermark>.<change>.<id>]`): the
      // small user ids of a fresh database are everyone's, so other users' tokens come up too.
      return fc.oneof(
        strings('', 'x', 's1', 'czEuMS4w=', '%%%', 'a'.repeat(201)),
        fc
          .tuple(fc.integer({ min: 0, max: 12 }), fc.constantFrom('0', '1', '5', '9999999999999999', '-1', '1.5', '01'), fc.option(fc.constantFrom('0.0.0', '1.1.1', '5.0.9', '0.9.0', '9999999999999999.1.1'), { nil: undefined }))
          .map(([user, from, round]) => text(Buffer.from(['s1', user, from, ...(round ? [round] : [])].join('.'), 'latin1').toString('base64url'))),
      );
    case 'listName':
      return fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 30 }).map(text),
        strings('a'.repeat(100), 'a'.repeat(101), '🚀'.repeat(100), '🚀'.repeat(101), 'e\u0301'.repeat(100), '  padded  ', ' ', '\t\n', 'Groceries'),
      );
    case 'role':
      return strings('owner', 'editor', 'viewer', 'viewer', 'boss', '', 'Owner', 'VIEWER', ' editor', 'editor ', 'owner,editor', 'null', 'viewer\u0000', 'ѵiewer');
    case 'listRef':
      return fc.oneof(
        { arbitrary: listReference.chain(referenceValue), weight: 4 },
        { arbitrary: fc.constantFrom(literal('null', ''), text(''), text('personal'), text('me'), text('none')), weight: 1 },
        { arbitrary: kindValue('integer', knowledge), weight: 1 },
      );
    case 'userRef':
      return fc.oneof(
        { arbitrary: userReference.chain(referenceValue), weight: 4 },
        { arbitrary: fc.constantFrom(literal('null', ''), text(''), text('me'), text('none'), text('personal')), weight: 1 },
        { arbitrary: kindValue('integer', knowledge), weight: 1 },
      );
    case 'text':
      return fc.string({ unit: 'grapheme', maxLength: 30 }).map(text);
  }
}

/** Mostly values of the field's own kind, otherwise anything hostile. */
const fieldValue = (kind: ValueKind, knowledge: Knowledge) =>
  fc.oneof({ arbitrary: kindValue(kind, knowledge), weight: 4 }, { arbitrary: anyHostileValue, weight: 1 });

const unknownNames = fc.constantFrom('__proto__', 'constructor', 'prototype', 'is_superuser', 'owner_id', '', ' title', 'TITLE', 'title\u0000', 'a'.repeat(1000));

function fieldNames(route: RouteSpec): Arbitrary<[string, ValueKind]> {
  const known = Object.entries(route.body ?? {});
  const unknown = unknownNames.map((name): [string, ValueKind] => [name, 'text']);
  return known.length === 0 ? unknown : fc.oneof({ arbitrary: fc.constantFrom(...known), weight: 4 }, { arbitrary: unknown, weight: 1 });
}

/** A value each kind accepts, so that a request with one hostile field gets past the others; undefined: left out. */
function validValue(kind: ValueKind, knowledge: Knowledge): Arbitrary<Value | undefined> {
  switch (kind) {
    case 'username':
      return fc.oneof(fc.constantFrom(...knowledge.usernames), usernameText(12).map((name) => `fz_${name}`)).map(text);
    case 'password':
      return fc.constant(text(knowledge.password));
    case 'email':
      return strings('', 'a@example.com');
    case 'date':
      return strings('2025-03-30', '');
    case 'boolean':
      return fc.constantFrom(literal('true'), literal('false'));
    case 'timestamp':
      return strings('2026-11-01T00:00:00Z');
    case 'integer':
      return fc.constant(literal('1'));
    case 'role':
      return strings('viewer', 'editor', 'owner');
    // Where a task goes and who does it depend on the caller's lists: mostly left out, so that
    // a write is not refused for them, else a list or a user (a move, an assignment) or null.
    case 'listRef':
      return fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 2 },
        { arbitrary: listReference.chain(referenceValue), weight: 2 },
        { arbitrary: fc.constant(literal('null', '')), weight: 1 },
      );
    case 'userRef':
      return fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 3 },
        { arbitrary: userReference.chain(referenceValue), weight: 1 },
        { arbitrary: fc.constant(literal('null', '')), weight: 1 },
      );
    default:
      return fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }).map(text);
  }
}

/**
 * The route's fields, usually all of them valid but one or two (hostile, missing, repeated),
 * sometimes a random handful; now and then with fields the route does not know.
 */
function fields(route: RouteSpec, knowledge: Knowledge): Arbitrary<{ name: string; value: Value }[]> {
  const known = Object.entries(route.body ?? {});
  const anyField = fieldNames(route).chain(([name, kind]) => fieldValue(kind, knowledge).map((value) => ({ name, value })));
  const random = fc.array(anyField, { maxLength: 6 });
  if (known.length === 0) return random;
  const baseline = fc
    .tuple(...known.map(([name, kind]) => validValue(kind, knowledge).map((value) => ({ name, value }))))
    .map((entries) => entries.filter((entry): entry is { name: string; value: Value } => entry.value !== undefined));
  const nearlyValid = fc
    .tuple(baseline, fc.array(anyField, { minLength: 1, maxLength: 2 }), fc.subarray(known.map(([name]) => name), { maxLength: 1 }))
    .map(([valid, hostile, dropped]) => [...valid.filter((field) => !dropped.includes(field.name) && !hostile.some((h) => h.name === field.name)), ...hostile]);
  return fc.oneof({ arbitrary: nearlyValid, weight: 3 }, { arbitrary: random, weight: 1 });
}

/** JSON text: objects of the route's fields (duplicates and all), other top-level values, broken JSON. */
function jsonBody(route: RouteSpec, knowledge: Knowledge): Arbitrary<Chunk[]> {
  const object = fields(route, knowledge).map((entries): Chunk[] => {
    const chunks: Chunk[] = ['{'];
    entries.forEach(({ name, value }, index) => chunks.push(index === 0 ? '' : ',', JSON.stringify(name), ':', ...value.json));
    chunks.push('}');
    return chunks;
  });
  const broken = fc.oneof(
    object.chain((chunks) => fc.nat({ max: Math.max(0, chunks.length - 1) }).map((keep) => chunks.slice(0, keep))),
    object.map((chunks) => ['\ufeff', ...chunks]),
    object.map((chunks) => [...chunks, 'garbage']),
    fc.constantFrom<Chunk[]>(['{'], ['{"title":}'], ["{'title':'x'}"], ['{"title":"x",}'], ['NaN'], ['{"title":"\\x"}'], ['{"title":"a\nb"}'], ['  '], ['{"a":1}{"b":2}'], [{ bytes: [0xff, 0x7b, 0x7d] }], ['"\\ud800"']),
  );
  const other = fc.oneof(anyHostileValue.map((value) => value.json), fc.constantFrom<Chunk[]>(['[]'], ['[{"title":"x"}]'], ['"str"'], ['1'], ['true'], ['null']));
  return fc.oneof({ arbitrary: object, weight: 5 }, { arbitrary: broken, weight: 2 }, { arbitrary: other, weight: 1 });
}

/** The value one time in five, otherwise `none`. */
function sometimes<T, N>(arbitrary: Arbitrary<T>, none: N): Arbitrary<T | N> {
  return fc.oneof({ arbitrary: fc.constant(none), weight: 4 }, { arbitrary, weight: 1 });
}

const garbledEscapes = fc.constantFrom('%', '%z', '%zz', '%E0%A4', '%C0%80', '%ED%A0%80', '%FF', '%%41', '+', '&&', '==', '%00');

function formPairs(route: RouteSpec, knowledge: Knowledge): Arbitrary<QueryPair[]> {
  const garbling = fc.record({
    encoding: fc.constantFrom<QueryPair['encoding'][]>('percent', 'percent', 'raw'),
    garble: sometimes(garbledEscapes, null),
  });
  return fields(route, knowledge).chain((entries) =>
    fc.tuple(...entries.map(() => garbling)).map((styles) =>
      entries.map(({ name, value }, index) => {
        const { encoding, garble } = styles[index]!;
        return { name: [name], value: garble === null ? value.text : [...value.text, garble], encoding: garble === null ? encoding : 'raw' };
      }),
    ),
  );
}

function multipartBody(route: RouteSpec, knowledge: Knowledge): Arbitrary<BodyPlan> {
  const fieldParts = fields(route, knowledge).map((entries) => entries.map(({ name, value }): MultipartPart => ({ name, value: value.text })));
  const otherPart: Arbitrary<MultipartPart> = fc.oneof(
    {
      arbitrary: fc.record({
        name: fc.constantFrom('file', 'title', 'description'),
        value: fc.constantFrom<Chunk[]>(['abc'], [{ repeat: 'f', times: 100_000 }], [{ bytes: [0, 1, 2, 255] }]),
        filename: fc.constantFrom('a.txt', '../../etc/passwd', '', 'ü.txt'),
        contentType: fc.constantFrom('text/plain', 'application/octet-stream', 'application/json'),
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ name: fc.constantFrom('title', 'x'), value: fc.constant<Chunk[]>(['v']), contentType: fc.constantFrom('text/plain; charset=latin1', 'text/plain; charset=utf-16', 'bogus') }), weight: 1 },
  );
  return fc.record({
    kind: fc.constant('multipart' as const),
    boundary: fc.constantFrom('X', '----TaskTrackerBoundary0123', 'a b', 'b'.repeat(70)),
    parts: fc.oneof(
      {
        arbitrary: fc
          .tuple(fieldParts, fc.array(otherPart, { maxLength: 2 }), fc.boolean())
          .map(([own, other, filesFirst]) => (filesFirst ? [...other, ...own] : [...own, ...other])),
        weight: 4,
      },
      { arbitrary: fc.constantFrom(50, 2_000).map((n) => Array.from({ length: n }, (_, i): MultipartPart => ({ name: `p${i}`, value: ['v'] }))), weight: 1 },
    ),
    lineEnd: fc.constantFrom<('\r\n' | '\n')[]>('\r\n', '\r\n', '\n'),
    ending: fc.constantFrom<('close' | 'none' | 'garbage')[]>('close', 'close', 'none', 'garbage'),
    cut: sometimes(fc.double({ min: 0, max: 1, noNaN: true }), undefined),
  });
}

const CHARSETS = ['', '; charset=utf-8', '; charset=UTF-8', ';charset="utf-8"', '; charset=latin1', '; charset=utf-16', '; charset=', '; foo=bar', ';;;'];

/** A content type that usually matches the body, sometimes lies about it, sometimes is absent. */
function contentTypeFor(body: BodyPlan): Arbitrary<string | undefined> {
  const matching: Record<BodyPlan['kind'], string[]> = {
    none: ['application/json'],
    json: ['application/json', 'APPLICATION/JSON', 'application/json '],
    form: ['application/x-www-form-urlencoded'],
    multipart: [],
    raw: ['text/plain'],
  };
  const declared =
    body.kind === 'multipart'
      ? fc.oneof(
          { arbitrary: fc.constantFrom(`multipart/form-data; boundary=${body.boundary}`, `multipart/form-data; boundary="${body.boundary}"`), weight: 4 },
          { arbitrary: fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=other', `multipart/mixed; boundary=${body.boundary}`), weight: 1 },
        )
      : fc.tuple(fc.constantFrom(...matching[body.kind]), fc.constantFrom(...CHARSETS)).map(([type, charset]) => type + charset);
  const other = fc.constantFrom('text/plain', 'application/xml', 'application/vnd.api+json', 'application/json-patch+json', 'application/octet-stream', '*/*', '', 'garbage', 'application/x-www-form-urlencoded', 'application/json');
  return fc.oneof({ arbitrary: declared, weight: 10 }, { arbitrary: other, weight: 2 }, { arbitrary: fc.constant(undefined), weight: 1 });
}

function bodyPlan(route: RouteSpec, knowledge: Knowledge): Arbitrary<BodyPlan> {
  return fc.oneof(
    { arbitrary: fc.constant<BodyPlan>({ kind: 'none' }), weight: 3 },
    { arbitrary: jsonBody(route, knowledge).map((chunks): BodyPlan => ({ kind: 'json', chunks })), weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant('form' as const), pairs: formPairs(route, knowledge), separator: fc.constantFrom<('&' | ';')[]>('&', '&', ';') }), weight: 3 },
    { arbitrary: multipartBody(route, knowledge), weight: 3 },
    {
      arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }).map((s): Chunk[] => [s]), fc.constantFrom<Chunk[]>([{ repeat: 'z', times: 1_048_577 }], ['<x/>'], [{ bytes: [0x1f, 0x8b, 0x08, 0] }])).map((chunks): BodyPlan => ({ kind: 'raw', chunks })),
      weight: 1,
    },
  );
}

function queryPairs(route: RouteSpec, knowledge: Knowledge): Arbitrary<QueryPair[]> {
  const known = Object.entries(route.query ?? {});
  const names: Arbitrary<[string, ValueKind]> = fc.oneof(
    { arbitrary: known.length === 0 ? fc.constant<[string, ValueKind]>(['page', 'integer']) : fc.constantFrom(...known), weight: 5 },
    { arbitrary: fc.constantFrom<[string, ValueKind][]>(['__proto__', 'text'], ['page[]', 'integer'], ['', 'text'], ['since', 'timestamp'], ['format', 'text'], ['a'.repeat(300), 'text']), weight: 1 },
  );
  return fc.array(
    fc.record({
      field: names.chain(([name, kind]) => fieldValue(kind, knowledge).map((value) => ({ name, value }))),
      garble: sometimes(garbledEscapes, null),
      encoding: fc.constantFrom<QueryPair['encoding'][]>('percent', 'percent', 'percent', 'raw'),
    }).map(({ field, garble, encoding }) => ({
      name: [field.name],
      value: garble === null ? field.value.text : [...field.value.text, garble],
      encoding: garble === null ? encoding : 'raw',
    })),
    { minLength: 1, maxLength: 3 },
  );
}

const ID_LITERALS = [
  '0', '-1', '00', '01', '1.0', '1e3', ' 1', '+1', '0x1', 'abc', '%', '%zz', '%E0%A4', '%31', '%00', '1%00', '-0', 'null', '__proto__', '１',
  '9223372036854775807', '9223372036854775808', '18446744073709551616', '99999999999999999999999999', '9'.repeat(1000), '..', '.', '%2e%2e',
];

/** An id in the path: a named object (sessions are only ever someone's), or literal text. */
function idRef(route: RouteSpec): Arbitrary<IdRef> {
  return fc.oneof(
    { arbitrary: route.id === 'session' ? ownedRef : objectRef, weight: 5 },
    { arbitrary: fc.constantFrom(...ID_LITERALS).map((literal) => ({ literal })), weight: 2 },
  );
}

/** The `:user_id` of a member's path: the caller, another member, a user in no list, no user. */
const userRef: Arbitrary<UserRef> = fc.oneof(
  { arbitrary: userName.map((user) => ({ user })), weight: 5 },
  { arbitrary: fc.constantFrom(...ID_LITERALS).map((literal) => ({ literal })), weight: 1 },
);

const mutation = fc.oneof(
  { arbitrary: fc.constant<PathMutation>('none'), weight: 16 },
  {
    arbitrary: fc.constantFrom<PathMutation[]>(
      'no-trailing-slash', 'double-trailing-slash', 'double-slash-inside', 'leading-double-slash', 'upper-case', 'extra-segment',
      'dot-segment', 'encoded-slash', 'encoded-letter', 'semicolon', 'absolute-url', 'backslash', 'fragment', 'empty-query',
    ),
    weight: 4,
  },
);

// Bob views Alice's list and owns the team Alice edits: his requests meet the other roles.
const tokenRef = fc.constantFrom<('alice' | 'bob' | 'revoked' | 'inactive' | 'forged')[]>('alice', 'alice', 'alice', 'alice', 'bob', 'bob', 'bob', 'revoked', 'inactive', 'forged');

const authorization: Arbitrary<AuthorizationPlan | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: fc.record({ scheme: fc.constant('Token'), separator: fc.constant(' '), token: tokenRef, suffix: fc.constant('') }), weight: 12 },
  {
    arbitrary: fc.record({
      scheme: fc.constantFrom('Token', 'token', 'TOKEN', 'Bearer', 'bearer', 'Basic', 'Digest', '', 'Token:', 'Tokens'),
      separator: fc.constantFrom(' ', '  ', '\t', '', '\u00a0'),
      token: fc.oneof(tokenRef, fc.constantFrom<Chunk[][]>([''], ['a b'], [{ repeat: 'f', times: 10_000 }], ['dXNlcjpwYXNz'], ['ü'], ['%00']).map((literal) => ({ literal }))),
      suffix: fc.constantFrom('', ' ', ' extra', ',', '\t'),
    }),
    weight: 2,
  },
);

const tagRef: Arbitrary<TagRef | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 12 },
  { arbitrary: fc.constantFrom<TagRef[]>('current', 'stale'), weight: 2 },
  { arbitrary: fc.constantFrom('*', 'W/"x"', '"x"', '', 'garbage', '"1-2", *', ',,,', 'W/', '"'.repeat(5_000)).map((literal) => ({ literal })), weight: 1 },
);

/** Headers a client may send, the hostile ones included. */
const extraHeader: Arbitrary<[string, Chunk[]]> = fc.oneof(
  fc.constantFrom(
    'localhost', 'LOCALHOST', '127.0.0.1', '127.0.0.1:8000', '[::1]', '[::1]:8000', 'evil.com', '127.0.0.1:80@evil.com', 'localhost:@evil.com',
    '127.0.0.1:x', '', 'localhost.', 'localhost:99999', 'localhost, evil.com', 'evil.com:80', '.localhost', 'localhost\\@evil.com', 'a'.repeat(300),
  ).map((value): [string, Chunk[]] => ['host', [value]]),
  fc.constantFrom('http://localhost:3000', 'http://localhost:3001', 'http://evil.com', 'null', '', 'HTTP://LOCALHOST:3000', 'http://localhost:3000/').map((value): [string, Chunk[]] => ['origin', [value]]),
  fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'TRACE', '').map((value): [string, Chunk[]] => ['access-control-request-method', [value]]),
  fc.constantFrom('if-match', 'authorization, content-type', 'x-evil').map((value): [string, Chunk[]] => ['access-control-request-headers', [value]]),
  fc.tuple(fc.constantFrom('x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'forwarded', 'x-real-ip'), fc.constantFrom('evil.com', '1.2.3.4', '::1', '1.2.3.4, 5.6.7.8', 'https', 'javascript', 'http, https', '', '127.0.0.1:80@evil.com', 'for=1.2.3.4;host=evil.com;proto=https', 'a'.repeat(2_000))).map(([name, value]): [string, Chunk[]] => [name, [value]]),
  fc.tuple(fc.constantFrom('expect', 'content-encoding', 'accept', 'accept-charset', 'accept-encoding', 'x-http-method-override', 'cookie', 'user-agent', 'range', 'if-modified-since', 'te', 'x-csrftoken', 'upgrade', 'connection'), fc.constantFrom('100-continue', 'x-fail', 'gzip', 'br', 'identity', 'text/html', '*/*', 'DELETE', 'sessionid=x; csrftoken=y', 'bytes=0-1', 'trailers', 'websocket', 'h2c', 'upgrade', 'keep-alive', 'close', 'ü')).map(([name, value]): [string, Chunk[]] => [name, [value]]),
  fc.constantFrom<[string, Chunk[]]>(['user-agent', [{ repeat: 'u', times: 5_000 }]], ['x-long', [{ repeat: 'h', times: 15_000 }]], ['cookie', [{ repeat: 'c=1;', times: 3_000 }]]),
);

const WIRE_TWEAKS: WireTweak[] = [
  'lf-line-ends', 'no-host', 'duplicate-host', 'duplicate-authorization', 'duplicate-content-length', 'bad-content-length', 'length-and-chunked',
  'obs-fold', 'space-before-colon', 'http-1.0', 'http-0.9', 'control-byte-in-header', 'bytes-after-body', 'unframed-body', 'lower-case-method', 'huge-header',
];

const STANDARD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const ODD_METHODS = ['TRACE', 'PROPFIND', 'SEARCH', 'MKCOL', 'LOCK', 'COPY', 'MOVE', 'PURGE', 'REPORT', 'QUERY', 'CONNECT', 'BREW', 'get'];

function method(route: RouteSpec): Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...route.methods), weight: 12 },
    { arbitrary: fc.constantFrom(...STANDARD_METHODS), weight: 3 },
    { arbitrary: fc.constantFrom(...ODD_METHODS), weight: 1 },
  );
}

/**
 * One hostile request to one of the routes. Each part is usually what a client would send and
 * now and then hostile, so that requests get past the early checks (host, session, method)
 * often enough to reach the parsing and validation behind them; routes that take more inputs
 * (an id in the path counting for several: whose object, which role) are chosen more often.
 */
export function requestPlan(routes: RouteSpec[], knowledge: Knowledge): Arbitrary<RequestPlan> {
  // Built once per route: building arbitraries for every request would cost more than sending it.
  const perRoute = routes.map((route) => ({
    arbitrary: routePlan(route, knowledge),
    weight: 2 + 3 * (route.path.match(/:\w+/g) ?? []).length + Object.keys(route.body ?? {}).length + Object.keys(route.query ?? {}).length,
  }));
  return fc.oneof(...perRoute);
}

function routePlan(route: RouteSpec, knowledge: Knowledge): Arbitrary<RequestPlan> {
  return fc
    .record({
      transport: fc.constantFrom<RequestPlan['transport'][]>('inject', 'inject', 'inject', 'http', 'http', 'raw'),
      server: fc.constantFrom<RequestPlan['server'][]>('direct', 'direct', 'proxied'),
      method: method(route),
      route: fc.constant(route.path),
      id: idRef(route),
      ...(route.path.includes(':user_id') ? { userId: userRef } : {}),
      mutation,
      query: fc.oneof({ arbitrary: fc.constant<QueryPair[]>([]), weight: 1 }, { arbitrary: queryPairs(route, knowledge), weight: route.query ? 4 : 1 }),
      authorization: route.authenticated ? authorization : fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: authorization, weight: 1 }),
      ifMatch: tagRef,
      ifNoneMatch: tagRef,
      headers: fc.oneof({ arbitrary: fc.constant<[string, Chunk[]][]>([]), weight: 2 }, { arbitrary: fc.array(extraHeader, { minLength: 1, maxLength: 3 }), weight: 1 }),
      body: bodyPlan(route, knowledge),
      framing: fc.constantFrom<RequestPlan['framing'][]>('length', 'length', 'chunked'),
      tweak: fc.oneof({ arbitrary: fc.constant<WireTweak>('none'), weight: 2 }, { arbitrary: fc.constantFrom(...WIRE_TWEAKS), weight: 1 }),
    })
    .chain((plan) => contentTypeFor(plan.body).map((contentType) => ({ ...plan, contentType })));
}
