import { Type } from 'typebox';
import { DeletedTaskList, TaskList } from '../tasks/schemas.js';

export const SyncQuery = Type.Object({
  token: Type.Optional(
    Type.String({ description: 'The token of the previous reply; absent or empty for a first sync, from nothing.' }),
  ),
});

export const SyncReply = Type.Object({
  token: Type.String({ description: 'Opaque; send it with the next sync.' }),
  more: Type.Boolean({ description: 'true: more changes are waiting; sync again at once with the new token.' }),
  changed: TaskList,
  deleted: DeletedTaskList,
});
