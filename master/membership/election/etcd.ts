// etcd v3's election API as the election lock: a campaign per candidate, and the leader read as
// the election's oldest key, whose create revision is the term.

import { type Campaign, Election, type Etcd3 } from "etcd3";
import type { Logger } from "@cache/log/log";
import type { Attempt, Lock } from "./elector.ts";

/** The etcd client, the election's name and the campaign's lease. */
export interface EtcdLockOptions {
  client: Etcd3;
  /** Candidates with the same name compete. */
  name: string;
  /** The campaign's etcd lease: a silent leader's key is gone after this long. */
  ttlSeconds: number;
  log: Logger;
}

/**
 * The election lock backed by etcd. The campaign keeps its lease alive; each attempt reads who
 * leads straight from the keys (not from `observe()`, which can report a wrong leader before
 * there is one). A campaign that fails, e.g. its lease expired while the process was paused, is
 * started again on the next attempt.
 */
export class EtcdLock implements Lock {
  readonly #options: EtcdLockOptions;
  readonly #election: Election;
  #campaign: Campaign | undefined;
  #news = () => {};

  constructor(options: EtcdLockOptions) {
    this.#options = options;
    this.#election = options.client.election(options.name, options.ttlSeconds);
  }

  async attempt(identity: string): Promise<Attempt> {
    if (!this.#campaign) this.#campaign = this.#campaignFor(identity);
    const campaign = this.#campaign;
    const { kvs } = await this.#keys().getAll().sort("Create", "Ascend").limit(1).exec();
    const oldest = kvs[0];
    if (!oldest) return { leader: undefined, term: 0 };
    const leader = oldest.value.toString();
    if (leader === identity) {
      const lease = leaseOf(campaign);
      if (lease && String(oldest.lease) !== await lease.grant()) {
        // A key of an earlier campaign of this master, under a lease nothing renews: a restarted
        // etcd restores leases, and it led on that key until it expired, then the next master
        // led as well. Deleted (if unchanged), so the next oldest leads: its own key, maybe. Not
        // by an attempt whose campaign failed meanwhile: the key may be the live campaign's.
        if (this.#campaign !== campaign) return { leader: undefined, term: 0 };
        const keys = this.#keys();
        const { succeeded } = await keys.if(oldest.key, "Mod", "==", oldest.mod_revision)
          .then(keys.delete().key(oldest.key)).commit();
        if (succeeded) {
          this.#options.log.info("deleted an election key of an earlier campaign", {
            term: Number(oldest.create_revision),
          });
        }
        return { leader: undefined, term: 0 };
      }
      // The elector counts a leader's lease from the start of its last attempt that names it,
      // but the campaign renews the lease on its own, every third of its time: read alone, a key
      // could name this master with the lease last renewed up to a third before, and a renew
      // deadline past two thirds of the lease let two masters lead at once (for 121-570 ms).
      // The lease is renewed here, within the attempt, so its start bounds the renewal.
      await lease?.keepaliveOnce();
    }
    return { leader, term: Number(oldest.create_revision) };
  }

  onNews(wake: () => void): void {
    this.#news = wake;
  }

  async release(): Promise<void> {
    const campaign = this.#campaign;
    this.#campaign = undefined;
    await campaign?.resign();
  }

  /**
   * Deletes the keys `identity` campaigns with, each only if unchanged since read; the candidates
   * waiting on them are elected in turn. Their leases expire unrenewed.
   */
  async evict(identity: string): Promise<void> {
    const keys = this.#keys();
    const { kvs } = await keys.getAll().exec();
    for (const kv of kvs.filter((kv) => kv.value.toString() === identity)) {
      await keys.if(kv.key, "Mod", "==", kv.mod_revision).then(keys.delete().key(kv.key)).commit();
    }
  }

  /** The election's keys: one per candidate, named by its lease, holding its identity. */
  #keys() {
    return this.#options.client.namespace(`${Election.prefix}/${this.#options.name}/`);
  }

  #campaignFor(identity: string): Campaign {
    const campaign = this.#election.campaign(identity);
    campaign.on("elected", () => this.#news()); // the older candidates' keys are gone
    campaign.on("error", (error) => {
      this.#options.log.warn("etcd campaign failed; campaigning again", { error: String(error) });
      if (this.#campaign === campaign) this.#campaign = undefined;
      this.#news();
    });
    return campaign;
  }
}

/**
 * The lease `campaign` keeps alive: a field the etcd3 client does not declare public (its
 * `Campaign` has no method that renews at once), read here as it stands in the pinned version.
 */
function leaseOf(campaign: Campaign): CampaignLease | undefined {
  const lease = (campaign as unknown as { lease?: Partial<CampaignLease> }).lease;
  return typeof lease?.keepaliveOnce === "function" && typeof lease.grant === "function"
    ? lease as CampaignLease
    : undefined;
}

/** What this lock uses of a campaign's lease: its id once granted, and a renewal now. */
interface CampaignLease {
  grant(): Promise<string>;
  keepaliveOnce(): Promise<unknown>;
}
