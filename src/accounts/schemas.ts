import { Type } from 'typebox';

export const Message = Type.Object({ message: Type.String() });

export const TokenReply = Type.Object({ token: Type.String({ description: 'Send as `Authorization: Token <token>`.' }) });

export const User = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  email: Type.String(),
  date_joined: Type.String({ format: 'date-time' }),
});

export const Session = Type.Object({
  id: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  user_agent: Type.String(),
  current: Type.Boolean({ description: 'True for the session whose token made this request.' }),
});

// Request bodies: documentation for the OpenAPI page. The fields are checked by
// validation.ts, with the original's messages and after authentication.
export const RegisterBody = Type.Object({
  username: Type.String({ maxLength: 150 }),
  password: Type.String(),
  email: Type.Optional(Type.String({ maxLength: 254 })),
});

export const LoginBody = Type.Object({ username: Type.String(), password: Type.String() });

export const UserPatchBody = Type.Object({ email: Type.Optional(Type.String({ maxLength: 254 })) });

export const PasswordChangeBody = Type.Object({ current_password: Type.String(), new_password: Type.String() });

export const AccountDeleteBody = Type.Object({ current_password: Type.String() });
