import { Router } from 'express';
import { z } from 'zod';
import type { Sql } from '../../db/pool';
import { createUser } from '../../db/users';
import { parse } from '../errors';

const signUp = z
  .object({
    email: z.email({ message: 'must be an email address' }).max(254),
    referralCode: z
      .string()
      .regex(/^[A-Za-z0-9]{4,32}$/, { message: 'must be 4 to 32 letters or digits' })
      .optional(),
  })
  .strict();

export function usersRouter(deps: { sql: Sql }): Router {
  const router = Router();
  router.post('/v1/users', async (req, res) => {
    const body = parse(signUp, req.body);
    const { user, apiKey } = await createUser(deps.sql, body);
    res.status(201).json({ id: user.id, email: user.email, apiKey, referralCode: user.referralCode });
  });
  return router;
}
