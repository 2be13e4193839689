import { Type, type Static } from 'typebox';

const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'date-time' });
const NullableId = Type.Unsafe<number | null>({ type: ['integer', 'null'], description: 'null once the account is deleted' });
const Link = Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'uri' });

export const ManagedUser = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  email: Type.String(),
  is_active: Type.Boolean(),
  is_staff: Type.Boolean(),
  is_superuser: Type.Boolean(),
  date_joined: Timestamp,
  last_login: NullableTimestamp,
  task_count: Type.Integer({ description: 'Tasks the user created.' }),
  session_count: Type.Integer({ description: 'Sessions not expired.' }),
});
export type ManagedUser = Static<typeof ManagedUser>;

export const UserPage = Type.Object({ count: Type.Integer(), next: Link, previous: Link, results: Type.Array(ManagedUser) });

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  actor: Type.Object({ id: NullableId, username: Type.String() }),
  action: Type.String({ enum: ['deactivate', 'reactivate', 'revoke_sessions'] }),
  target: Type.Object({ id: NullableId, username: Type.String() }),
  created_at: Timestamp,
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditPage = Type.Object({ count: Type.Integer(), next: Link, previous: Link, results: Type.Array(AuditEntry) });

export const Totals = Type.Object({ users: Type.Integer(), active_users: Type.Integer(), tasks: Type.Integer() });

export const Revoked = Type.Object({ revoked: Type.Integer({ description: 'Sessions ended.' }) });

export const UserIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) });
