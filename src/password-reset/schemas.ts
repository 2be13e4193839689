import { Type } from 'typebox';

export const Detail = Type.Object({ detail: Type.String() });

// Request bodies: documentation for the OpenAPI page; routes.ts checks the fields.
export const ResetRequestBody = Type.Object({ email: Type.String({ format: 'email', maxLength: 254 }) });

export const ResetConfirmBody = Type.Object({
  new_password1: Type.String({ description: 'The new password; the password policy of registration applies.' }),
  new_password2: Type.String({ description: 'The same password again.' }),
  uid: Type.String({ description: 'The `{uid}` of the link in the mail.' }),
  token: Type.String({ description: 'The `{token}` of the link in the mail.' }),
});
