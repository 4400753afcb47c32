package ike

// The task manager runs exchanges as strongSwan's task_manager_v2.c does.
// Each exchange concern is a task with build and process methods; the
// initiator of an exchange builds a request and processes the response, the
// responder processes the request and builds the response. Two slots keep
// the two directions apart (RFC 7296 §2.2):
//
//   - the initiating slot holds the message ID of our next request, the
//     active tasks and the last request as sent, which the Clock's timer
//     retransmits unchanged until the response arrives;
//   - the responding slot holds the message ID the peer's next request must
//     carry and the last response as sent, which answers a retransmitted
//     request byte for byte: it is never sealed again, so no AEAD nonce is
//     ever used twice.
//
// A message "as sent" is a list of datagrams: one, or the SKF fragments of
// a message too large for the path (RFC 7383), which are retransmitted all
// together and unchanged. Each slot also reassembles the peer's fragments
// of the one message it expects (RFC 7383 §2.6), our request's response or
// the peer's next request; a reassembled message then goes the way a whole
// one does.

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/ike/message"
)

type taskStatus uint8

const (
	// taskDone: the task has finished its part of the exchange.
	taskDone taskStatus = iota
	// taskRetry: the exchange must start over (INVALID_KE_PAYLOAD):
	// IKE_SA_INIT with message ID 0 again (RFC 7296 §1.2), any other as a
	// new exchange with the next message ID.
	taskRetry
)

// task is one exchange concern in one role.
type task interface {
	exchange() message.ExchangeType
	// build adds the task's payloads to a request (initiator) or a
	// response (responder).
	build(msg *message.Message) error
	// process reads a response (initiator) or a request (responder). A
	// responder's error that carries a notification (withNotify) becomes
	// the response.
	process(msg *message.Message) (taskStatus, error)
}

type taskManager struct {
	sa     *IKESA
	queued []task

	initiating struct {
		messageID uint32
		active    []task
		// request is the datagrams of the request as sent.
		request [][]byte
		// defrag collects the fragments of its response.
		defrag message.Reassembler
		// retransmits counts the timer firings for request; generation
		// tells a stale timer from the current one.
		retransmits int
		generation  uint64
		timer       Timer
	}
	responding struct {
		messageID uint32
		// response answers a retransmission of request messageID-1: the
		// datagrams as sent.
		response [][]byte
		// defrag collects the fragments of request messageID.
		defrag message.Reassembler
	}
}

func (tm *taskManager) queue(t task) { tm.queued = append(tm.queued, t) }

// queueFirst puts t before every queued task: the Delete that completes a
// rekey goes out before anything else (RFC 7296 §1.3.3, §2.8).
func (tm *taskManager) queueFirst(t task) { tm.queued = append([]task{t}, tm.queued...) }

// skipper is a task that may have become pointless while it was queued (a
// rekey of a CHILD_SA the peer has already replaced or deleted).
type skipper interface {
	skip() bool
}

// initiate starts the next queued exchange unless one is active (window
// size 1, RFC 7296 §2.3). IKE_SA_INIT's and IKE_AUTH's tasks share their
// exchange; every CREATE_CHILD_SA and INFORMATIONAL task has its own.
func (tm *taskManager) initiate() error {
	in := &tm.initiating
	for len(in.active) == 0 && len(tm.queued) > 0 && tm.sa.state != StateDestroyed {
		if s, ok := tm.queued[0].(skipper); ok && s.skip() {
			tm.queued = tm.queued[1:]
			continue
		}
		ex := tm.queued[0].exchange()
		n := 1
		if ex == message.ExchangeIKESAInit || ex == message.ExchangeIKEAuth {
			for n < len(tm.queued) && tm.queued[n].exchange() == ex {
				n++
			}
		}
		in.active = append([]task(nil), tm.queued[:n]...)
		tm.queued = tm.queued[n:]
		return tm.sendRequest()
	}
	return nil
}

// activeTask returns the active task of type T, if any.
func activeTask[T task](tm *taskManager) (T, bool) {
	for _, t := range tm.initiating.active {
		if v, ok := t.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// busy reports whether our request is outstanding or waiting to go.
func (tm *taskManager) busy() bool {
	return len(tm.initiating.active) > 0 || len(tm.queued) > 0
}

// sendRequest builds the active tasks' request and sends it.
func (tm *taskManager) sendRequest() error {
	sa, in := tm.sa, &tm.initiating
	msg := &message.Message{Header: message.Header{
		SPIi: sa.spiI, SPIr: sa.spiR,
		Exchange:  in.active[0].exchange(),
		Flags:     sa.ourFlags(),
		MessageID: in.messageID,
	}}
	for _, t := range in.active {
		if err := t.build(msg); err != nil {
			sa.fail(err)
			return err
		}
	}
	datagrams, err := sa.seal(msg)
	if err != nil {
		sa.fail(err)
		return err
	}
	if msg.Header.Exchange == message.ExchangeIKESAInit {
		sa.initRequest = datagrams[0]
	}
	sa.log.Debug("sending request", zap.Stringer("message", msg))
	in.request = datagrams
	in.retransmits = 0
	in.defrag.Reset()
	sa.queueSend(datagrams...)
	tm.armRetransmit()
	return nil
}

func (tm *taskManager) armRetransmit() {
	sa, in := tm.sa, &tm.initiating
	if in.timer != nil {
		in.timer.Stop()
	}
	in.generation++
	gen := in.generation
	rc := sa.conn.Retransmit
	delay := time.Duration(float64(rc.Timeout) * math.Pow(rc.Base, float64(in.retransmits)))
	in.timer = sa.conn.Clock.AfterFunc(delay, func() {
		sa.mu.Lock()
		defer sa.unlock()
		tm.retransmit(gen)
	})
}

// retransmit resends the stored request unchanged, or gives the SA up after
// the last try's timeout.
func (tm *taskManager) retransmit(gen uint64) {
	sa, in := tm.sa, &tm.initiating
	if gen != in.generation || in.request == nil || sa.state == StateDestroyed {
		return
	}
	if in.retransmits >= sa.conn.Retransmit.Tries {
		sa.fail(fmt.Errorf("%w: message ID %d after %d retransmissions", ErrTimeout, in.messageID, in.retransmits))
		return
	}
	in.retransmits++
	sa.log.Info("retransmitting request", zap.Uint32("message_id", in.messageID), zap.Int("try", in.retransmits))
	sa.queueSend(in.request...)
	tm.armRetransmit()
}

func (tm *taskManager) stop() {
	in := &tm.initiating
	if in.timer != nil {
		in.timer.Stop()
		in.timer = nil
	}
	in.generation++
	in.request = nil
	in.active = nil
	tm.queued = nil
	in.defrag.Reset()
	tm.responding.defrag.Reset()
}

// handle dispatches one datagram to the initiating or responding slot.
func (tm *taskManager) handle(datagram []byte, from, to netip.AddrPort) error {
	sa := tm.sa
	if sa.state == StateDestroyed {
		return fmt.Errorf("%w: SA destroyed", ErrUnexpected)
	}
	hdr, err := message.ParseHeader(datagram)
	if err != nil {
		sa.log.Debug("dropping malformed message", zap.Stringer("from", from), zap.Error(err))
		return fmt.Errorf("ike: dropped: %w", err)
	}
	// The Initiator flag names the original initiator of the IKE SA, so a
	// message from the peer carries the opposite of ours (RFC 7296 §3.1).
	if hdr.Flags.Initiator() == sa.initiator {
		return fmt.Errorf("%w: initiator flag", ErrUnexpected)
	}
	if err := tm.checkSPIs(hdr); err != nil {
		return err
	}
	if hdr.Flags.Response() {
		return tm.handleResponse(hdr, datagram, from, to)
	}
	return tm.handleRequest(hdr, datagram, from, to)
}

func (tm *taskManager) checkSPIs(hdr message.Header) error {
	sa := tm.sa
	bound := sa.initiator || sa.state != StateCreated
	switch {
	case bound && hdr.SPIi != sa.spiI:
		return fmt.Errorf("%w: initiator SPI %#x", ErrUnexpected, hdr.SPIi)
	case !sa.initiator && sa.state == StateCreated && hdr.SPIr != 0:
		return fmt.Errorf("%w: responder SPI set in a first request", ErrUnexpected)
	case sa.initiator && sa.spiR == 0:
		// The IKE_SA_INIT response tells us the responder's SPI.
		return nil
	case !sa.initiator && hdr.Exchange == message.ExchangeIKESAInit && hdr.SPIr == 0:
		// A retransmitted IKE_SA_INIT still has no responder SPI; the
		// responding slot answers it from the cache.
		return nil
	case bound && hdr.SPIr != sa.spiR:
		return fmt.Errorf("%w: responder SPI %#x", ErrUnexpected, hdr.SPIr)
	}
	return nil
}

// decode parses IKE_SA_INIT in the clear and opens every other message. A
// fragment goes to defrag, the slot's reassembler: decode returns the
// message it completes, or nil and no error while fragments are missing.
func (tm *taskManager) decode(hdr message.Header, datagram []byte, defrag *message.Reassembler) (*message.Message, error) {
	sa := tm.sa
	if hdr.Exchange == message.ExchangeIKESAInit {
		return message.Parse(datagram)
	}
	if sa.recvT == nil {
		return nil, fmt.Errorf("%w: %v before keys exist", ErrUnexpected, hdr.Exchange)
	}
	if !carriesFragment(hdr, datagram) {
		return message.Open(datagram, sa.recvT)
	}
	if !sa.fragmentation {
		return nil, fmt.Errorf("%w: a fragment, but IKE fragmentation was not negotiated", ErrUnexpected)
	}
	msg, err := defrag.Add(datagram, sa.recvT)
	if err != nil {
		return nil, err
	}
	if msg == nil {
		// An authentic fragment is news from the peer, whole or not.
		sa.lastRecv = sa.conn.Clock.Now()
		sa.log.Debug("received fragment, waiting for the rest", zap.Uint32("message_id", hdr.MessageID))
		return nil, nil
	}
	sa.log.Debug("reassembled fragmented message", zap.Uint32("message_id", hdr.MessageID))
	return msg, nil
}

func (tm *taskManager) handleResponse(hdr message.Header, datagram []byte, from, to netip.AddrPort) error {
	sa, in := tm.sa, &tm.initiating
	if len(in.active) == 0 || hdr.MessageID != in.messageID || hdr.Exchange != in.active[0].exchange() {
		return fmt.Errorf("%w: response %d (%v) matches no request", ErrUnexpected, hdr.MessageID, hdr.Exchange)
	}
	msg, err := tm.decode(hdr, datagram, &in.defrag)
	if err != nil {
		sa.log.Debug("dropping response", zap.Error(err))
		return fmt.Errorf("ike: dropped: %w", err)
	}
	if msg == nil {
		return nil
	}
	sa.log.Debug("received response", zap.Stringer("message", msg))
	sa.lastRecv = sa.conn.Clock.Now()
	if hdr.Exchange == message.ExchangeIKESAInit {
		sa.initResponse = append([]byte(nil), datagram...)
	} else {
		sa.followPeer(from, to)
	}
	// The exchange is over whatever the tasks make of it: the timer stops
	// and the next request takes the next message ID.
	if in.timer != nil {
		in.timer.Stop()
		in.timer = nil
	}
	in.generation++
	in.request = nil
	active := in.active
	retry := false
	for _, t := range active {
		status, err := t.process(msg)
		if err != nil {
			if fn, ok := t.(failureNotifier); ok {
				if n := fn.failureNotify(); n != nil {
					tm.sendFailureNotify(n)
				}
			}
			sa.fail(err)
			return err
		}
		retry = retry || status == taskRetry
	}
	if sa.state == StateDestroyed {
		return sa.err
	}
	if retry {
		if hdr.Exchange == message.ExchangeIKESAInit {
			// IKE_SA_INIT starts over with message ID 0 and no
			// responder SPI (RFC 7296 §1.2).
			sa.spiR = 0
			return tm.sendRequest()
		}
		in.messageID++
		return tm.sendRequest()
	}
	in.active = nil
	in.messageID++
	if hdr.Exchange == message.ExchangeIKESAInit {
		sa.floatToNATPort()
	}
	return tm.initiate()
}

func (tm *taskManager) handleRequest(hdr message.Header, datagram []byte, from, to netip.AddrPort) error {
	sa, rs := tm.sa, &tm.responding
	if rs.response != nil && hdr.MessageID == rs.messageID-1 {
		if resend, err := tm.answersRetransmit(hdr, datagram); !resend {
			return err
		}
		sa.log.Debug("request retransmitted, resending cached response", zap.Uint32("message_id", hdr.MessageID),
			zap.Int("datagrams", len(rs.response)))
		// Where it came from: a retransmitted IKE_SA_INIT of a peer we
		// have not heard from since is answered on its port.
		for _, b := range rs.response {
			sa.outbox = append(sa.outbox, outgoing{data: b, from: to, to: from})
		}
		return nil
	}
	if hdr.MessageID != rs.messageID {
		return fmt.Errorf("%w: request message ID %d, expected %d", ErrUnexpected, hdr.MessageID, rs.messageID)
	}
	if err := tm.acceptsRequest(hdr.Exchange); err != nil {
		return err
	}
	msg, err := tm.decode(hdr, datagram, &rs.defrag)
	var critical *message.UnsupportedCriticalPayloadError
	if errors.As(err, &critical) {
		return tm.rejectCritical(hdr, critical)
	}
	if err != nil {
		sa.log.Debug("dropping request", zap.Error(err))
		return fmt.Errorf("ike: dropped: %w", err)
	}
	if msg == nil {
		return nil
	}
	sa.log.Debug("received request", zap.Stringer("message", msg))
	if hdr.Exchange == message.ExchangeIKESAInit {
		sa.initRequest = append([]byte(nil), datagram...)
		sa.local, sa.remote = to, from
	} else {
		sa.lastRecv = sa.conn.Clock.Now()
		sa.followPeer(from, to)
	}
	tasks := tm.responderTasks(hdr.Exchange, msg)
	resp := &message.Message{Header: message.Header{
		SPIi: hdr.SPIi, SPIr: sa.spiR,
		Exchange:  hdr.Exchange,
		Flags:     sa.ourFlags() | message.FlagResponse,
		MessageID: hdr.MessageID,
	}}
	var failure error
	for _, t := range tasks {
		if _, err := t.process(msg); err != nil {
			failure = err
			break
		}
	}
	if failure == nil {
		for _, t := range tasks {
			if err := t.build(resp); err != nil {
				sa.fail(err)
				return err
			}
		}
	} else {
		var ne *notifyError
		if !errors.As(failure, &ne) {
			ne = &notifyError{notify: message.NewNotify(message.NotifyInvalidSyntax, nil), err: failure}
		}
		resp.Payloads = []message.Payload{ne.notify}
	}
	if failure != nil && hdr.Exchange == message.ExchangeIKESAInit {
		// Refusing IKE_SA_INIT keeps no state (RFC 7296 §2.6): the
		// response has no responder SPI and the SA stays CREATED, so the
		// initiator's next try starts afresh.
		resp.Header.SPIr = 0
		sa.spiI = 0
		b, err := sa.encode(resp)
		if err != nil {
			return err
		}
		sa.initRequest = nil
		sa.log.Info("refused IKE_SA_INIT", zap.Error(failure))
		sa.queueSend(b)
		return failure
	}
	datagrams, err := sa.seal(resp)
	if err != nil {
		sa.fail(err)
		return err
	}
	if hdr.Exchange == message.ExchangeIKESAInit {
		sa.initResponse = datagrams[0]
	}
	sa.log.Debug("sending response", zap.Stringer("message", resp))
	rs.response = datagrams
	rs.messageID++
	sa.queueSend(datagrams...)
	if failure != nil {
		sa.fail(failure)
		return failure
	}
	for _, t := range tasks {
		if d, ok := t.(destroyer); ok {
			if err := d.destroyAfterResponse(); err != nil {
				sa.fail(err)
				return err
			}
		}
		if f, ok := t.(finisher); ok {
			f.afterResponse()
		}
	}
	// A responder task may have queued work of ours (a restarted child).
	return tm.initiate()
}

// rejectCritical answers a request that carries a payload we do not know
// but whose critical bit says we must, with UNSUPPORTED_CRITICAL_PAYLOAD
// naming its type (RFC 7296 §2.5). An IKE_SA_INIT is refused without state,
// as any refused IKE_SA_INIT; any other request was authenticated before
// its payloads were parsed, so its answer takes the message ID as usual.
func (tm *taskManager) rejectCritical(hdr message.Header, critical *message.UnsupportedCriticalPayloadError) error {
	sa, rs := tm.sa, &tm.responding
	err := fmt.Errorf("%w: %w", ErrUnexpected, critical)
	resp := &message.Message{
		Header: message.Header{
			SPIi: hdr.SPIi, SPIr: sa.spiR, Exchange: hdr.Exchange,
			Flags: sa.ourFlags() | message.FlagResponse, MessageID: hdr.MessageID,
		},
		Payloads: []message.Payload{message.NewNotify(message.NotifyUnsupportedCriticalPayload, []byte{byte(critical.Type)})},
	}
	if hdr.Exchange == message.ExchangeIKESAInit {
		resp.Header.SPIr = 0
		if sa.state != StateCreated {
			return err
		}
		b, encErr := resp.Encode()
		if encErr != nil {
			return encErr
		}
		sa.spiI = 0
		sa.log.Info("refused IKE_SA_INIT with an unsupported critical payload", zap.Uint8("type", uint8(critical.Type)))
		sa.queueSend(b)
		return err
	}
	datagrams, encErr := sa.seal(resp)
	if encErr != nil {
		return encErr
	}
	sa.log.Info("refused a request with an unsupported critical payload", zap.Stringer("exchange", hdr.Exchange),
		zap.Uint8("type", uint8(critical.Type)))
	rs.response = datagrams
	rs.messageID++
	sa.queueSend(datagrams...)
	return err
}

// failureNotifier is a task whose failure the peer must hear about in a
// separate INFORMATIONAL request, because the failure was found in a
// response (RFC 7296 §2.21.2: an initiator that cannot authenticate the
// responder tells it with AUTHENTICATION_FAILED).
type failureNotifier interface {
	failureNotify() *message.Notify
}

// destroyer is a responder task after whose response the IKE SA must go.
type destroyer interface {
	destroyAfterResponse() error
}

// finisher is a responder task with work to do once its response is on
// its way: a rekeyed IKE SA announced, a deleted one destroyed.
type finisher interface {
	afterResponse()
}

// sendFailureNotify sends an INFORMATIONAL request carrying n just before the
// SA is destroyed. Nobody waits for its response, so it is sent once and not
// retransmitted.
func (tm *taskManager) sendFailureNotify(n *message.Notify) {
	sa := tm.sa
	msg := &message.Message{
		Header: message.Header{
			SPIi: sa.spiI, SPIr: sa.spiR,
			Exchange:  message.ExchangeInformational,
			Flags:     sa.ourFlags(),
			MessageID: tm.initiating.messageID + 1,
		},
		Payloads: []message.Payload{n},
	}
	datagrams, err := sa.seal(msg)
	if err != nil {
		sa.log.Debug("cannot send failure notification", zap.Error(err))
		return
	}
	sa.queueSend(datagrams...)
}

// acceptsRequest says whether a request of exchange ex may be processed in
// the SA's current state; anything else is dropped before it is even
// decrypted. CREATE_CHILD_SA and INFORMATIONAL need a completed IKE_AUTH
// (RFC 7296 §1.3, §1.4).
func (tm *taskManager) acceptsRequest(ex message.ExchangeType) error {
	sa := tm.sa
	ok := false
	switch ex {
	case message.ExchangeIKESAInit:
		ok = !sa.initiator && sa.state == StateCreated
	case message.ExchangeIKEAuth:
		ok = !sa.initiator && sa.state == StateConnecting && sa.recvT != nil
	case message.ExchangeCreateChildSA, message.ExchangeInformational:
		switch sa.state {
		case StateEstablished, StateRekeying, StateRekeyed, StateDeleting:
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: %v request in state %v", ErrUnexpected, ex, sa.state)
	}
	return nil
}

// responderTasks creates the tasks that answer a request. CREATE_CHILD_SA
// is told apart by its payloads (RFC 7296 §1.3): an SA payload for
// protocol IKE rekeys the IKE SA, a REKEY_SA notify a CHILD_SA, anything
// else creates one. INFORMATIONAL by its Delete payloads (§1.4.1).
func (tm *taskManager) responderTasks(ex message.ExchangeType, msg *message.Message) []task {
	sa := tm.sa
	switch ex {
	case message.ExchangeIKESAInit:
		return []task{&ikeInit{sa: sa}, &natDetection{sa: sa}, &fragmentationSupport{sa: sa}, &signatureHashes{sa: sa}}
	case message.ExchangeIKEAuth:
		return []task{&ikeAuth{sa: sa}, &childCreate{sa: sa, auth: true}}
	case message.ExchangeCreateChildSA:
		if p, ok := msg.Find(message.PayloadSA).(*message.SA); ok && len(p.Proposals) > 0 && p.Proposals[0].Protocol == message.ProtocolIKE {
			return []task{&ikeRekey{sa: sa}}
		}
		if msg.Notify(message.NotifyRekeySA) != nil {
			return []task{&childRekey{sa: sa}}
		}
		return []task{&childCreate{sa: sa}}
	}
	for _, p := range msg.FindAll(message.PayloadDelete) {
		if d, ok := p.(*message.Delete); ok && d.Protocol == message.ProtocolIKE {
			return []task{&ikeDelete{sa: sa}}
		}
	}
	if msg.Find(message.PayloadDelete) != nil {
		return []task{&childDelete{sa: sa}}
	}
	return []task{&informational{}}
}

// ourFlags is the Initiator flag if we are the IKE SA's original initiator.
func (sa *IKESA) ourFlags() message.Flags {
	if sa.initiator {
		return message.FlagInitiator
	}
	return 0
}

// encode writes IKE_SA_INIT in the clear and seals everything else, with a
// fresh IV counter each time.
func (sa *IKESA) encode(msg *message.Message) ([]byte, error) {
	if msg.Header.Exchange == message.ExchangeIKESAInit {
		return msg.Encode()
	}
	if sa.sendT == nil {
		return nil, fmt.Errorf("%w: no keys to protect %v", ErrInvalidState, msg.Header.Exchange)
	}
	b, err := message.Seal(msg, sa.sendT, sa.sendCounter)
	sa.sendCounter++
	return b, err
}
