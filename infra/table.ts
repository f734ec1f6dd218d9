// The ledger's one table, with the key and index names the store uses (lib/store/table.ts).
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, ProjectionType, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { KEY, NODE_INDEX, TTL_ATTRIBUTE } from '../lib/store/table';
import { isDev, type StageConfig } from './config';

export function ledgerTable(scope: Construct, stage: StageConfig): TableV2 {
  const keep = !isDev(stage);
  return new TableV2(scope, 'Ledger', {
    partitionKey: { name: KEY.partition, type: AttributeType.STRING },
    sortKey: { name: KEY.sort, type: AttributeType.STRING },
    globalSecondaryIndexes: [
      {
        indexName: NODE_INDEX.name,
        partitionKey: { name: NODE_INDEX.partition, type: AttributeType.STRING },
        sortKey: { name: NODE_INDEX.sort, type: AttributeType.STRING },
        // Claims rewrite the node item constantly; projecting usage would make each claim an index write too.
        projectionType: ProjectionType.KEYS_ONLY,
      },
    ],
    // The fleet summary's feed (infra/fleet-summary.ts); old images let a deletion be conditioned on the generation.
    dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES,
    // Expired release tombstones (rule O5) go by themselves; the claim's condition does not rely on it.
    timeToLiveAttribute: TTL_ATTRIBUTE,
    // TableV2 is on-demand unless told otherwise: claims come in bursts that provisioned capacity would throttle.
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // An AWS managed key, unlike the default DynamoDB-owned one, shows each use of the key in CloudTrail,
    // and needs no key policy or grants of ours.
    encryption: TableEncryptionV2.awsManagedKey(),
    deletionProtection: keep,
    removalPolicy: keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
}
