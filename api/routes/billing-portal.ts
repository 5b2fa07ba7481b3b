import { type RequestHandler, Router } from 'express';
import type { UseCases } from '../../app';
import { currentUser } from '../auth';
import { ownOrigin } from '../session';

/**
 * `POST /v1/billing-portal` → `{url}`: a Stripe Billing Portal session for the user's saved
 * Customer, where their payments and receipts are (DESIGN.md §13). 409 before the first
 * purchase (no Customer yet). The portal's "return" link leads back to the credits page.
 */
export function billingPortalRouter(
  deps: { requireUser: RequestHandler } & Pick<UseCases, 'openBillingPortal'>,
): Router {
  const router = Router();
  router.post('/v1/billing-portal', deps.requireUser, async (req, res) => {
    const portal = await deps.openBillingPortal({
      userId: currentUser(res).id,
      returnUrl: `${ownOrigin(req)}/usercredits`,
    });
    res.json(portal);
  });
  return router;
}
