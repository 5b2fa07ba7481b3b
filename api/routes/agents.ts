import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { Agent, UseCases } from '../../app';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { freeText, integerParam, uuidOf, visibleText } from '../schemas';

export const agentBody = z
  .object({
    name: visibleText(200),
    description: freeText(2000).optional(),
  })
  .strict();

export const ratingBody = z
  .object({
    // A number, not a string: "5" is refused like 2.5, so a client's mistake is not guessed at.
    stars: z
      .number({ message: 'must be a whole number from 1 to 5' })
      .int({ message: 'must be a whole number from 1 to 5' })
      .min(1, { message: 'must be a whole number from 1 to 5' })
      .max(5, { message: 'must be a whole number from 1 to 5' }),
    comment: freeText(2000).optional(),
  })
  .strict();

/** Cursor pagination: `cursor` is the `nextCursor` of the page before (the id of its last agent). */
export const listQuery = z
  .object({
    limit: integerParam(1, 100).default(20),
    cursor: uuidOf('a cursor returned as nextCursor').optional(),
  })
  .strict();

/** A malformed id is a 400 naming `id`, as GET /v1/projects/:id answers. */
export const idParam = z.object({ id: uuidOf('an agent id') });

function view(a: Agent) {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    creatorId: a.creatorId,
    rating: a.rating,
    ratingsCount: a.ratingsCount,
    createdAt: a.createdAt,
  };
}

type Deps = { requireUser: RequestHandler } & Pick<
  UseCases,
  'publishAgent' | 'listAgents' | 'showAgent' | 'rateAgent'
>;

/** Agents (DESIGN.md §11): creators publish them, users who were charged for one rate it. */
export function agentsRouter(deps: Deps): Router {
  const router = Router();

  router.post('/v1/agents', deps.requireUser, async (req, res) => {
    const body = parse(agentBody, req.body);
    const published = await deps.publishAgent({ user: currentUser(res), body, key: idempotencyKey(req) });
    res
      .status(published.created ? 201 : 200)
      .set(replayHeaders(!published.created))
      .json(view(published.agent));
  });

  router.get('/v1/agents', deps.requireUser, async (req, res) => {
    const query = parse(listQuery, req.query, 'query');
    const page = await deps.listAgents({ limit: query.limit, cursor: query.cursor });
    res.json({ data: page.data.map(view), nextCursor: page.nextCursor });
  });

  router.get('/v1/agents/:id', deps.requireUser, async (req, res) => {
    const { id } = parse(idParam, { id: req.params.id }, 'id');
    res.json(view(await deps.showAgent(id)));
  });

  /** 201 for the user's first rating of the agent, 200 when it replaces their earlier one. */
  router.post('/v1/agents/:id/ratings', deps.requireUser, async (req, res) => {
    const { id } = parse(idParam, { id: req.params.id }, 'id');
    const body = parse(ratingBody, req.body);
    const rated = await deps.rateAgent({
      user: currentUser(res),
      agentId: id,
      stars: body.stars,
      comment: body.comment,
    });
    res.status(rated.replaced ? 200 : 201).json({
      agentId: rated.rating.agentId,
      stars: rated.rating.stars,
      comment: rated.rating.comment,
      createdAt: rated.rating.createdAt,
      updatedAt: rated.rating.updatedAt,
      agent: view(rated.agent),
    });
  });
  return router;
}
