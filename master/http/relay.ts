// How a master route answers with another service's answer.

/** Passes another service's answer through as it is: it answers the same declared route. */
export const relay = (answer: Promise<Response>) => answer as Promise<never>;
