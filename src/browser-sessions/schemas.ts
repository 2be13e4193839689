import { Type } from 'typebox';

export const UserDetails = Type.Object({
  pk: Type.Integer({ description: 'The user id; read-only.' }),
  username: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
});

const access = Type.String({ description: 'An access token: `Authorization: Bearer <access>`. In cookie mode it is also set as the access cookie.' });
const refresh = Type.String({
  description:
    'The refresh token, for `token/refresh/`. Empty in cookie mode with JWT_AUTH_HTTPONLY, where it is only in the HttpOnly refresh cookie ' +
    '(except in the reply to a refresh that sent its token in the body).',
});

export const SignedIn = Type.Object({ access, refresh, user: UserDetails });

export const Refreshed = Type.Object({
  access,
  refresh,
  access_expiration: Type.String({ format: 'date-time', description: 'When the access token expires.' }),
});

export const Detail = Type.Object({ detail: Type.String() });

export const Verified = Type.Object({}, { description: 'The token is valid and its session live.' });

/** SimpleJWT's refusal of a token; `messages` says which kind of token an access check tried. */
export const TokenNotValid = Type.Object(
  {
    detail: Type.String(),
    code: Type.Optional(Type.String({ description: '`token_not_valid` when a token was refused.' })),
    messages: Type.Optional(
      Type.Array(Type.Object({ token_class: Type.String(), token_type: Type.String(), message: Type.String() })),
    ),
  },
  { description: 'Missing, malformed, expired or revoked credentials (with `WWW-Authenticate: Token`).' },
);

// Request bodies: documentation for the OpenAPI page. The fields are checked by the routes,
// with the original's messages and after authentication.
export const LoginBody = Type.Object({ username: Type.String(), password: Type.String() });

export const RegistrationBody = Type.Object({
  username: Type.String({ maxLength: 150 }),
  email: Type.Optional(Type.String({ maxLength: 254 })),
  password1: Type.String(),
  password2: Type.String({ description: 'password1 again.' }),
});

export const RefreshBody = Type.Object({
  refresh: Type.Optional(Type.String({ description: 'Without it (or empty), the refresh cookie is used, with the CSRF check.' })),
});

export const VerifyBody = Type.Object({
  token: Type.Optional(Type.String({ description: 'An access or refresh token. Without it (or empty), the access cookie is checked, with the CSRF check.' })),
});

export const UserDetailsBody = Type.Object({
  username: Type.Optional(Type.String({ maxLength: 150, description: 'Required by PUT.' })),
  email: Type.Optional(Type.String({ maxLength: 254 })),
  first_name: Type.Optional(Type.String({ maxLength: 150 })),
  last_name: Type.Optional(Type.String({ maxLength: 150 })),
});

export const PasswordChangeBody = Type.Object({
  old_password: Type.String(),
  new_password1: Type.String(),
  new_password2: Type.String({ description: 'new_password1 again.' }),
});
