// The slice of npm net-snmp (3.x, untyped) that sigpath uses. Only drivers/snmp imports the library; everything
// else goes through session.ts, traps.ts and sim.ts, which own its quirks (see session.ts).
declare module 'net-snmp' {
	import type { EventEmitter } from 'node:events'
	import type { Socket } from 'node:dgram'

	export const Version1: 0
	export const Version2c: 1
	export const Version3: 3
	export const ObjectType: {
		Boolean: 1
		Integer: 2
		OctetString: 4
		Null: 5
		OID: 6
		IpAddress: 64
		Counter: 65
		Gauge: 66
		TimeTicks: 67
		Opaque: 68
		Counter64: 70
		NoSuchObject: 128
		NoSuchInstance: 129
		EndOfMibView: 130
	}
	export const SecurityLevel: { noAuthNoPriv: 1; authNoPriv: 2; authPriv: 3 }
	export const AuthProtocols: Record<string, number>
	export const PrivProtocols: Record<string, number>
	export const MibProviderType: { Scalar: 'Scalar'; Table: 'Table' }
	export const MaxAccess: Record<string, number>

	export interface Varbind {
		oid: string
		type: number
		value: unknown
	}
	export interface User {
		name: string
		level: number
		authProtocol?: number
		authKey?: string
		privProtocol?: number
		privKey?: string
	}
	export interface SessionOptions {
		port?: number
		retries?: number
		timeout?: number
		backoff?: number
		transport?: 'udp4' | 'udp6'
		trapPort?: number
		version?: number
		idBitsSize?: 16 | 32
		engineID?: string
		context?: string
	}
	export interface Session extends EventEmitter {
		dgram: Socket
		get(oids: string[], cb: (error: Error | null, varbinds?: Varbind[]) => void): void
		getBulk(
			oids: string[],
			nonRepeaters: number,
			maxRepetitions: number,
			cb: (error: Error | null, varbinds?: (Varbind | Varbind[])[]) => void,
		): void
		set(varbinds: Varbind[], cb: (error: Error | null, varbinds?: Varbind[]) => void): void
		trap(oid: string, varbinds: Varbind[], cb: (error: Error | null) => void): void
		inform(oid: string, varbinds: Varbind[], cb: (error: Error | null) => void): void
		close(): void
	}
	export function createSession(target: string, community: string, options?: SessionOptions): Session
	export function createV3Session(target: string, user: User, options?: SessionOptions): Session
	export function isVarbindError(varbind: Varbind): boolean
	export function varbindError(varbind: Varbind): string

	export interface Authorizer {
		addCommunity(community: string): void
		addUser(user: User): void
	}
	export interface Notification {
		pdu: { type: number; varbinds: Varbind[]; community?: string; user?: string }
		rinfo: { address: string; port: number; family: string }
	}
	export interface ListenerOptions {
		port: number
		address?: string
		transport?: 'udp4' | 'udp6'
		disableAuthorization?: boolean
		includeAuthentication?: boolean
		engineID?: string
	}
	export interface Receiver {
		getAuthorizer(): Authorizer
		close(cb?: () => void): void
	}
	export function createReceiver(
		options: ListenerOptions,
		cb: (error: (Error & { rinfo?: { address: string; port: number } }) | null, data?: Notification) => void,
	): Receiver

	export interface ScalarProvider {
		name: string
		type: 'Scalar'
		oid: string
		scalarType: number
		maxAccess: number
	}
	export interface Mib {
		registerProvider(p: ScalarProvider): void
		setScalarValue(name: string, value: unknown): void
		getScalarValue(name: string): unknown
	}
	export interface Agent {
		getAuthorizer(): Authorizer
		getMib(): Mib
		close(cb?: () => void): void
	}
	export function createAgent(options: ListenerOptions, cb: (error: Error | null, data?: unknown) => void): Agent
}
