import { Type, type Static } from 'typebox';

const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-24T03:15:53.617827Z'] });
const Role = Type.Union([Type.Literal('owner'), Type.Literal('editor'), Type.Literal('viewer')], {
  description: 'viewer: reads the list, its members and tasks; editor: also writes its tasks; owner: also renames or deletes the list and manages its members.',
});

/** A list as the caller sees it; the response schema is an allow-list. */
export const List = Type.Object({
  id: Type.Integer(),
  name: Type.String({ maxLength: 100 }),
  description: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  role: Type.Union(Role.anyOf, { description: "The caller's role in the list." }),
  member_count: Type.Integer(),
});
export type List = Static<typeof List>;

export const ListArray = Type.Array(List);

const Link = Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'uri' });
export const NumberedListPage = Type.Object({ count: Type.Integer(), next: Link, previous: Link, results: ListArray });
export const CursorListPage = Type.Object({ next: Link, previous: Link, results: ListArray });

/** What GET /api/lists/ answers, by the pagination asked for. */
export const ListListing = Type.Union([ListArray, NumberedListPage, CursorListPage], {
  description: 'A plain array without pagination parameters; `{count, next, previous, results}` for page or limit/offset; `{next, previous, results}` for cursor.',
});

export const Member = Type.Object({
  user_id: Type.Integer(),
  username: Type.String(),
  role: Role,
  joined_at: Timestamp,
});
export type Member = Static<typeof Member>;

export const MemberArray = Type.Array(Member);

export const ListIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) });
export const MemberParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }), user_id: Type.String({ pattern: '^[0-9]+$' }) });

// Request bodies for the OpenAPI page; validate.ts applies the rules and messages.
export const ListBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
});
export const ListPatchBody = Type.Partial(ListBody);
export const NewMemberBody = Type.Object({
  username: Type.String(),
  role: Type.Optional(Type.Union(Role.anyOf, { default: 'viewer' })),
});
export const RoleBody = Type.Object({ role: Role });
