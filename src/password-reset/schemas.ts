import { Type } from 'typebox';

export const Detail = Type.Object({ detail: Type.String() });

/**
 * Any of the contract's 400 replies: field errors, every failing field at once, or
 * `{"detail": "..."}` for a body that cannot be read. Serialized as it is.
 */
export const BadRequest = Type.Object(
  {},
  {
    additionalProperties: true,
    description: 'Field errors (`{"field": ["message", …]}`), or `{"detail": "…"}` for a body that cannot be read.',
    examples: [{ token: ['Invalid value'] }],
  },
);

export const Throttled = Type.Object(
  { detail: Type.String() },
  { description: 'Too many requests from this address or for this email address; `Retry-After` says when to try again.' },
);

// Request bodies: documentation for the OpenAPI page; routes.ts checks the fields.
export const ResetRequestBody = Type.Object({ email: Type.String({ format: 'email', maxLength: 254 }) });

export const ResetConfirmBody = Type.Object({
  new_password1: Type.String({ description: 'The new password; the password policy of registration applies.' }),
  new_password2: Type.String({ description: 'The same password again.' }),
  uid: Type.String({ description: 'The `{uid}` of the link in the mail.' }),
  token: Type.String({ description: 'The `{token}` of the link in the mail.' }),
});
