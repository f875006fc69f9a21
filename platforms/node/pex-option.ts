import type { Storage } from '../../src/storage/storage.js';
import { PEXAgent, type PexAgentOptions } from '../../src/pex/pex-agent.js';
import type { Switch } from '../../src/switch/switch.js';

/** `createNode({ pex })`: peer exchange settings; the book lives in the node's storage (its home). */
export type NodePexOptions = Omit<PexAgentOptions, 'storage'>;

/** Name the agent is registered under, for `sw.getAgent<PEXAgent>(PEX_AGENT_NAME)`. */
export const PEX_AGENT_NAME = 'pex';

/**
 * Adds a PEXAgent to a Node switch, its address book kept in `storage` (FileStorage in the node's
 * home by default), unless `options` is false. Call before `sw.start()`. Returns the agent.
 */
export function addPexAgent(sw: Switch, storage: Storage, options: NodePexOptions | false | undefined): PEXAgent | undefined {
  if (options === false) return undefined;
  const agent = new PEXAgent({ ...(options ?? {}), ...(options?.book === undefined ? { storage } : {}) });
  sw.addAgent(PEX_AGENT_NAME, agent);
  return agent;
}
