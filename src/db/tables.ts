import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Column types as the application sees them on both databases. Timestamps are ISO 8601
 * strings in UTC with microseconds (`2026-11-24T03:15:53.617827Z`) and dates are
 * `YYYY-MM-DD` strings: SQLite stores that text, PostgreSQL's values are formatted to match
 * (see database.ts). Booleans come back from SQLite as 0/1, so rows are mapped in the repositories.
 */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** Case-folded username; its unique index makes `alice` and `Alice` the same account. */
  username_key: string;
  email: string;
  password: string;
  is_active: Generated<boolean | number>;
  date_joined: string;
  last_login: string | null;
  /** Moves when all the user's sessions are revoked; a login's session must match it. */
  session_epoch: Generated<number>;
  /** May use the admin API (migration 006). */
  is_staff: Generated<boolean | number>;
  /** Staff who may also act on other staff. */
  is_superuser: Generated<boolean | number>;
  /** Django's name fields, read and written by dj-rest-auth's user endpoint (migration 008). */
  first_name: Generated<string>;
  last_name: Generated<string>;
}

export interface AuthTokensTable {
  id: Generated<number>;
  user_id: number;
  /** SHA-256 of the token, hex: the token itself is never stored. */
  digest: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string;
  /**
   * A browser session (migration 008): SHA-256 of its current refresh token's id; null for a
   * session of an opaque key.
   */
  refresh_digest: Generated<string | null>;
}

export interface TasksTable {
  id: Generated<number>;
  owner_id: number;
  title: string;
  description: string;
  due_date: string | null;
  completed: boolean | number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  /** Title and description as search folds them (tasks/search-text.ts); never served. */
  title_folded: Generated<string>;
  description_folded: Generated<string>;
  /** Orders commits for sync (migration 003); set by the database on every write. */
  change_id: Generated<number>;
  /** The list the task belongs to; null for a personal task, seen by its owner only. */
  list_id: number | null;
  /** A member of the task's list, or null. */
  assignee_id: number | null;
}

export type Role = 'owner' | 'editor' | 'viewer';

export interface ListsTable {
  id: Generated<number>;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface ListMembersTable {
  list_id: number;
  user_id: number;
  role: Role;
  joined_at: string;
}

/** One record per task and per user whose view the task left (deleted, moved away, list left). */
export interface DeletedTasksTable {
  /** The task; null in the record of a deleted list, which names the list instead. */
  task_id: number | null;
  /** A deleted list: the record stands for each of its tasks in deleted_list_tasks. */
  list_id: number | null;
  /** The user the task left: its owner for a personal task, each member for a list's task. */
  owner_id: number;
  deleted_at: string;
  /** Orders commits for sync (migration 003); set by the database when the task is deleted. */
  change_id: Generated<number>;
}

/** One row: what sync needs to know beyond the rows themselves (migration 003). */
export interface SyncStateTable {
  id: number;
  /** SQLite's commit counter; PostgreSQL orders commits by transaction id and leaves it at 0. */
  change_counter: number;
  /** The largest change id of a deletion record forgotten after the retention window. */
  purged_through: number;
}

/** What a member of staff did through the admin API, to whom, and when (migration 006). */
export interface AdminAuditTable {
  id: Generated<number>;
  actor_id: number | null;
  actor_username: string;
  action: string;
  target_id: number | null;
  target_username: string;
  created_at: string;
}

/** An outstanding password reset link (migration 007); used, it is deleted. */
export interface PasswordResetTokensTable {
  id: Generated<number>;
  user_id: number;
  /** SHA-256 of the link's token, hex: the token itself is never stored. */
  digest: string;
  /** Of the account's password hash and email when issued (password-reset/tokens.ts). */
  account_fingerprint: string;
  created_at: string;
  expires_at: string;
}

/** The key that signs browser sessions' tokens when none is configured (migration 008). */
export interface JwtSigningKeyTable {
  id: number;
  secret: string;
  created_at: string;
}

/** The tasks a deleted list held when it was deleted (migration 005). */
export interface DeletedListTasksTable {
  list_id: number;
  task_id: number;
}

export interface Tables {
  users: UsersTable;
  auth_tokens: AuthTokensTable;
  tasks: TasksTable;
  deleted_tasks: DeletedTasksTable;
  sync_state: SyncStateTable;
  lists: ListsTable;
  list_members: ListMembersTable;
  deleted_list_tasks: DeletedListTasksTable;
  admin_audit: AdminAuditTable;
  password_reset_tokens: PasswordResetTokensTable;
  jwt_signing_key: JwtSigningKeyTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type TokenRow = Selectable<AuthTokensTable>;
export type TaskRow = Selectable<TasksTable>;
export type NewTask = Insertable<TasksTable>;
export type TaskUpdate = Updateable<TasksTable>;
