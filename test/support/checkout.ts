/** Presses a button on the stand-in's hosted checkout page, as a browser form would. */
export async function checkout(
  checkoutUrl: string,
  action: 'pay' | 'decline' | 'cancel',
  card?: string,
): Promise<{ status: number; location: string | null; html: string }> {
  const form = new URLSearchParams({ action, ...(card ? { card } : {}) });
  const res = await fetch(checkoutUrl, {
    method: 'POST',
    body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}
