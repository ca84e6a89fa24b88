/*
 * relay.bpf.c: the stream verdict of sluice.relay "sockmap".
 *
 * Lives under worker/ because the relay it serves is the worker's
 * (shm/sockmap.c embeds the object; DESIGN.md §7 puts the BPF sources
 * here).  Built with clang -target bpf from <linux/bpf.h> and libbpf's
 * <bpf/bpf_helpers.h> only: no vmlinux.h, no bpftool, no CO-RE.
 *
 * A socket in SL_SOCKS runs this for every skb it receives: the skb goes
 * out of the socket its cookie names in SL_PEERS.  SL_PEERS carries no
 * program; being in it only makes a socket a redirect target.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 131072);
	__type(key, __u64);		/* cookie of the source */
	__type(value, __u64);		/* the destination (trap 1: u64) */
} sl_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 131072);
	__type(key, __u64);		/* the socket's own cookie */
	__type(value, __u64);
} sl_socks SEC(".maps");

SEC("sk_skb/stream_verdict")
int
sl_relay_verdict(struct __sk_buff *skb)
{
	__u64 cookie;

	/*
	 * A FIN-only skb redirected fails the peer (trap 7).  Passed, it
	 * waits on this socket's psock queue behind the bytes redirected to
	 * this socket, and when its turn comes its zero length is taken for
	 * an error that stops the queue: bytes still coming are dropped (seen
	 * on 6.18 with a client that sends its FIN while a response streams
	 * to it).  TCP has taken the FIN already (RCV_SHUTDOWN: EPOLLRDHUP,
	 * recv() == 0), so the empty skb carries nothing: drop it.
	 */
	if (skb->len == 0)
		return SK_DROP;
	cookie = bpf_get_socket_cookie(skb);
	/* Redirected, or no peer: then the bytes stay on this socket for
	 * the worker to read rather than be dropped (trap 7). */
	bpf_sk_redirect_hash(skb, &sl_peers, &cookie, 0);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
